"""How the KB's lookup and input errors read over HTTP, for the JSON API and the web page alike."""

from __future__ import annotations

from index.owners import AmbiguousUnit, Unit


def status_of(error: Exception) -> int:
    """409 for a name that means several units, 404 for anything not found, 422 for bad input."""
    if isinstance(error, AmbiguousUnit):
        return 409
    return 404 if isinstance(error, LookupError) else 422


def alternatives(error: Exception) -> list[Unit]:
    """The units an ambiguous name could mean, or those closest to an unknown one."""
    return getattr(error, "suggestions", None) or getattr(error, "candidates", None) or []
