"""How a merchant's words find a customer: text folded for matching, and phone numbers reduced to their digits.

Pure functions, the same on both sides of a match (what the directory stores and what the agent searches for):

- :func:`fold`: case and accents folded (``José`` → ``jose``), and Arabic written one way: alef forms ``أ إ آ ٱ`` →
  ``ا``, ``ى``/``ی`` → ``ي``, ``ة`` → ``ه``, tashkeel (harakat, shadda, sukun, superscript alef) and tatweel removed,
  presentation forms to their letters, and every decimal digit (Arabic-Indic ``٠١٢`` too) to ASCII.
- :func:`phone_digits`: a phone number as its national digits, whatever the spelling: ``+966 50 123 4567``,
  ``00966501234567``, ``0501234567`` and ``٠٥٠١٢٣٤٥٦٧`` are all ``501234567``.
- :func:`terms`: what a search asks for: a phone number, or words that must all appear.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Terms", "fold", "phone_digits", "terms"]

#: Saudi Arabia's calling code: dropped so that +966 5x… and 05x… are the same number.
COUNTRY_CODE = "966"
_LETTERS = str.maketrans({"ٱ": "ا", "ى": "ي", "ی": "ي", "ة": "ه", "ۀ": "ه", "ـ": ""})
#: A query that is a phone number in any spelling: digits with spaces, dashes, dots, brackets or a leading +.
_PHONE_LIKE = re.compile(r"\+?[\d\s\-.()]+")
#: The fewest digits a query needs to be searched as a phone number (fewer: it is a word like any other).
MIN_PHONE_DIGITS = 4


def _digit(char: str) -> str:
    value = unicodedata.decimal(char, None)
    return char if value is None else str(value)


def fold(text: str | None) -> str:
    """``text`` as it is compared: lower case, no accents or tashkeel, one spelling of each Arabic letter, ASCII
    digits, single spaces."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = (
        _digit(char)
        for char in decomposed
        if not unicodedata.combining(char) and unicodedata.category(char) not in ("Mn", "Me", "Cf")
    )
    return " ".join("".join(kept).casefold().translate(_LETTERS).split())


def phone_digits(text: str | None) -> str:
    """The national digits of a phone number: every non-digit dropped, then a leading ``00``, the country code and
    the trunk ``0``."""
    digits = "".join(char for char in fold(text) if char.isdigit())
    if digits.startswith("00"):
        digits = digits[2:]
    if digits.startswith(COUNTRY_CODE) and len(digits) > len(COUNTRY_CODE) + 7:
        digits = digits[len(COUNTRY_CODE) :]
    return digits.lstrip("0")


@dataclass(frozen=True)
class Terms:
    """A search: ``phone`` (national digits) when the query is a phone number, else ``words`` that must all match."""

    words: tuple[str, ...] = ()
    phone: str | None = None

    @property
    def empty(self) -> bool:
        return not self.words and not self.phone


def terms(query: str) -> Terms:
    """What ``query`` asks for: a phone number (at least :data:`MIN_PHONE_DIGITS` digits and nothing but phone
    punctuation), or its folded words, punctuation trimmed from their ends."""
    folded = fold(query)
    digits = sum(char.isdigit() for char in folded)
    if digits >= MIN_PHONE_DIGITS and _PHONE_LIKE.fullmatch(folded):
        return Terms(phone=phone_digits(folded) or None, words=())
    words = (_trimmed(word) for word in folded.split())
    return Terms(words=tuple(word for word in words if word))


def _trimmed(word: str) -> str:
    """``word`` without punctuation or symbols at its ends (``"noura,"`` → ``"noura"``; ``"--"`` → ``""``)."""
    start, end = 0, len(word)
    while start < end and unicodedata.category(word[start])[0] in "PS":
        start += 1
    while end > start and unicodedata.category(word[end - 1])[0] in "PS":
        end -= 1
    return word[start:end]
