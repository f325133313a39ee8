"""Pinyin of company names, for search by what reps type on phones (华为 ← ``huawei``, ``hw``).

``pinyin_keys(core)`` gives two keys of a core name (``engine.normalize``):

1. the syllables joined, lower-case, without tones: 华为技术 → ``huaweijishu``; pypinyin's
   phrase dictionary picks the reading of a polyphonic character from its neighbours
   (重庆 → ``chongqing``, 长安 → ``changan``);
2. the initials, one letter per character: ``hwjs``.

The name is cut into words as pypinyin cuts it and each word is read once (cached): a bulk
fill of a million names is several times faster that way, and reads every name alike.

Characters that are not Chinese pass through as they are (letters and digits only, folded):
``Apple`` → ``apple`` / ``a``: a Latin word keeps its letters and gives one initial.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import lazy_pinyin
from pypinyin.core import Pinyin

_NOT_KEY = re.compile(r"[^a-z0-9]")
MAX_KEY = 200
_SEGMENTER = Pinyin()


def _clean(text: str) -> str:
    return _NOT_KEY.sub("", text.casefold())


def pinyin_keys(core: str) -> tuple[str, str]:
    """``(syllables, initials)`` of a core name; empty strings when it has no letters."""
    syllables = [syllable for word in _SEGMENTER.seg(core) for syllable in _word_syllables(word)]
    initials = "".join(syllable[:1] for syllable in syllables)
    return "".join(syllables)[:MAX_KEY], initials[:MAX_KEY]


@lru_cache(maxsize=1 << 16)
def _word_syllables(word: str) -> tuple[str, ...]:
    """One word of pypinyin's segmentation, read on its own (as ``lazy_pinyin`` reads it):
    words recur across names (科技, 网络, brands), so a bulk fill reads each once."""
    return tuple(_clean(syllable) for syllable in lazy_pinyin([word]))


def is_pinyin_query(text: str) -> bool:
    """Latin letters only (what a pinyin or initials search looks like)."""
    return bool(text) and text.isascii() and text.isalpha()
