"""Vector index backends behind one seam (base.VectorIndex), one module each, chosen by a
policy recorded in manifest.json (factory), and kept as segments plus deletions."""
