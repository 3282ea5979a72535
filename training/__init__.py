"""Model building, not runtime: the link model's fit and the embedding model's offline build."""
