"""The normalised form of Chinese text that matching and indexing use.

Display keeps the original characters; every matcher in ingest/ runs on ``normalize(text)``:
NFKC (full-width letters, digits and punctuation to half-width) and no whitespace between
CJK characters, digits and punctuation ("到 2025 年" → "到2025年").
"""

from __future__ import annotations

import re
import unicodedata

# Characters that never take a space next to them in Chinese running text.
_CJK = (
    r"\u3000-\u303f"  # CJK punctuation: 、。〈〉《》「」『』【】〔〕
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # ideographs
    r"\uff00-\uffef"  # full-width forms
    r"\u2010-\u2027\u2030-\u205e"  # dashes, quotes, ellipsis, ‰
)
_TIGHT = rf"[{_CJK}0-9%().,:;!?\[\]+\-/]"
_SPACE_BETWEEN_CJK = re.compile(
    rf"(?<=[{_CJK}])[ \t\u3000\u00a0]+(?={_TIGHT})|(?<={_TIGHT})[ \t\u3000\u00a0]+(?=[{_CJK}])"
)
_RUNS_OF_SPACE = re.compile(r"[ \t\u3000\u00a0]+")

# NFKC keeps these as they are, but in policy text they are the same marks as （）.
_BRACKETS = str.maketrans(
    {"〔": "(", "〕": ")", "［": "(", "］": ")", "【": "(", "】": ")", "[": "(", "]": ")"}
)


def normalize(text: str) -> str:
    """NFKC, half-width, tight spacing between CJK and digits; used for matching, never display."""
    text = unicodedata.normalize("NFKC", text)
    text = _SPACE_BETWEEN_CJK.sub("", text)
    return _RUNS_OF_SPACE.sub(" ", text).strip()


def normalize_brackets(text: str) -> str:
    """``normalize`` plus 〔〕 and 【】 folded to (): for comparing 文号 and unit names."""
    return normalize(text.translate(_BRACKETS))


def tidy(text: str) -> str:
    """Display form: the original characters, with stray whitespace between CJK removed."""
    text = _SPACE_BETWEEN_CJK.sub("", text)
    return _RUNS_OF_SPACE.sub(" ", text).strip()


def is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"
