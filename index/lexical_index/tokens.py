"""FTS5's unicode61 tokenizer (its defaults) in Python, and the phrases of a MATCH expression.

Tokens are runs of letters, numbers, private-use and unassigned characters (L*, N*, Co;
SQLite reads unassigned ones as letters); case is folded and a letter's single diacritic
dropped (remove_diacritics=1). SQLite's tables are Unicode 6.1's: a character assigned since
may be cut differently. tests/test_lexical_index.py checks this against FTS5's own tokens.
"""

from __future__ import annotations

import re
import unicodedata

_PHRASE = re.compile(r'"((?:[^"]|"")*)"')
_DIACRITICS = range(0x300, 0x370)  # combining marks: dropped inside a token, never start one


def _fold(code: int) -> str:
    """One character as unicode61 leaves it: folded, removed (""), or a separator (" ")."""
    char = chr(code)
    if code < 0x80:
        return char.lower() if char.isalnum() else " "
    if code in _DIACRITICS:
        return ""
    category = unicodedata.category(char)
    if not (category[0] in "LN" or category in ("Co", "Cn")):  # SQLite: unassigned is a letter
        return " "
    lower = next((f for f in (char.casefold(), char.lower()) if len(f) == 1), char)
    parts = unicodedata.normalize("NFD", lower)
    if len(parts) == 2 and parts[0].isascii() and unicodedata.combining(parts[1]):
        return parts[0]
    return lower


class _FoldTable(dict):
    """A ``str.translate`` table of ``_fold``, filled as characters are first seen."""

    def __missing__(self, code: int) -> str:
        self[code] = folded = _fold(code)
        return folded


_FOLDS = _FoldTable()


def tokens(text: str) -> list[str]:
    """The tokens FTS5's unicode61 tokenizer makes of ``text``, in order."""
    return text.translate(_FOLDS).split()


def phrases(match: str) -> list[list[str]]:
    """The phrases of an OR of quoted strings (index.lexical.bm25_match), as tokens each;
    empty phrases, which FTS5 ignores, are left out."""
    found = [tokens(m.group(1).replace('""', '"')) for m in _PHRASE.finditer(match)]
    return [p for p in found if p]
