"""A buyer's name as search compares it: Latin letters, lower case, whatever script it was written in.

A salesperson types "rajesh" for राजेश and राजेश for Rajesh. Devanagari is spelled out in Latin letters by
indic-transliteration (ITRANS), with Hindi's dropped final vowel (राजेश is "rajesh", not "rajesha"), so both
spellings meet in one indexed column (``Lead.name_latin``) and in the folded search term.
"""

from __future__ import annotations

import re
import unicodedata

from indic_transliteration import sanscript  # type: ignore[import-untyped]  # ships no type hints

_DEVANAGARI = re.compile(r"[\u0900-\u097F]")
_DEVANAGARI_WORD = re.compile(r"[\u0900-\u097F]+")
# A Devanagari consonant letter: a word ending in one ends in its inherent "a", silent in Hindi.
_CONSONANT = re.compile(r"[\u0915-\u0939\u0958-\u095F]$")


def has_devanagari(text: str) -> bool:
    return bool(_DEVANAGARI.search(text))


def _latin_word(word: str) -> str:
    latin = str(sanscript.transliterate(word, sanscript.DEVANAGARI, sanscript.ITRANS))
    if _CONSONANT.search(word) and latin.endswith("a") and len(latin) > 2:
        latin = latin[:-1]  # Hindi drops the final inherent vowel: राजेश is spoken "rajesh"
    # ITRANS marks long vowels and retroflexes with capitals and the anusvara as M: plain letters match better.
    return latin.replace("M", "n").replace("~N", "n").replace(".N", "n").replace(".h", "")


def latin_name(name: str) -> str:
    """``name`` in plain lower-case Latin letters: Devanagari transliterated, accents dropped."""
    spelled = _DEVANAGARI_WORD.sub(lambda match: _latin_word(match.group()), name)
    folded = unicodedata.normalize("NFKD", spelled)
    return "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()[:255]
