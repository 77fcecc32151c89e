"""Store text is data, not instructions: strip invisible control characters, and mask personal data on request.

Product names, customer names and notes are written by anyone (a supplier, a shopper). Bidirectional overrides and
isolates can make text read differently from what it says, and zero-width characters can hide words from a human
reviewer while the model still reads them, so they are removed. Arabic letters, diacritics and the joiners that
Arabic-script writing needs (ZWNJ, ZWJ) are kept.
"""

from __future__ import annotations

import re

__all__ = ["clean", "mask_email", "mask_phone"]

# LRM, RLM, ALM; LRE/RLE/PDF/LRO/RLO; LRI/RLI/FSI/PDI; zero-width space, word joiner, BOM, Mongolian vowel separator.
_INVISIBLE = re.compile("[\u200b\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069\u2060\ufeff\u180e]")


def clean(text: str | None) -> str | None:
    """``text`` without bidi controls and zero-width characters (None stays None)."""
    return None if text is None else _INVISIBLE.sub("", text)


def mask_email(email: str | None) -> str | None:
    """``noura@example.sa`` → ``n***@example.sa``."""
    if not email or "@" not in email:
        return None if email is None else "***"
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str | None) -> str | None:
    """``+966501234567`` → ``+9665*****567``: enough to tell numbers apart, not to call them."""
    if not phone:
        return phone
    digits = len(phone)
    keep_start, keep_end = min(5, digits // 2 - 1), min(3, digits // 4)
    return phone[:keep_start] + "*" * (digits - keep_start - keep_end) + phone[digits - keep_end :]
