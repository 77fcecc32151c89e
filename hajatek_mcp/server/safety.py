"""Outside text is data, not instructions: one character policy, one quoting rule, one boundary.

Product names, customer names, notes, webhook bodies and OAuth registrations are written by anyone (a supplier, a
shopper, an app). Text can read differently from what it says (bidirectional overrides), hide words from a human
while the model still reads them (zero-width and tag characters, "ASCII smuggling"), or push what matters out of view
(newlines). The policy, by Unicode category, so that it covers characters nobody listed:

- removed: control characters (``Cc``) except the whitespace the field allows, format characters (``Cf``: bidi
  controls, zero-width characters, the soft hyphen, invisible operators, tag characters U+E0000–E007F, interlinear
  annotations), surrogates (``Cs``), private-use (``Co``) and unassigned code points (``Cn``, noncharacters among
  them), variation selectors, and the fillers that are letters or marks by category but show nothing
  (:data:`_FILLERS`, e.g. U+3164 HANGUL FILLER);
- kept: ZWNJ (U+200C) and ZWJ (U+200D), which Arabic-script writing needs, and every letter, mark (Arabic
  diacritics), number, punctuation and symbol;
- whitespace: in a one-line field (a name, a city) every run of whitespace, line breaks and tabs included, becomes one
  space; in a free-text field (a description, a note) line breaks become ``\\n``, tabs stay, other spaces become
  a plain space.

:func:`quote` is how a message the server writes (a confirmation question, a preview, an error, the audit log) cites
outside text: after the server's own facts, as a one-line, length-capped excerpt in quotation marks, with a visible
ellipsis when cut. :func:`present` is the boundary every outside value crosses on its way to the model: it applies the
policy to every string of a result and, with ``redact``, masks personal data by field name and in free text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MULTILINE_FIELDS",
    "clean",
    "clean_text",
    "forbidden",
    "mask_email",
    "mask_phone",
    "present",
    "quote",
]

#: Letters, marks and symbols by category that render as nothing (fillers, invisible vowels, the braille blank).
_FILLERS = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\uffa0")
_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: Arabic-script writing needs them
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
#: Text that needs no work at all: printable ASCII, plus the newline and tab a free-text field keeps.
_PLAIN = re.compile(r"[\x20-\x7e]*")
_PLAIN_TEXT = re.compile(r"[\x20-\x7e\n\t]*")
_SPACES = re.compile(r" {2,}")
#: Fields whose value is free text (several lines allowed); every other string is one line.
MULTILINE_FIELDS = frozenset({"description", "note", "notes", "message"})


def forbidden(char: str) -> bool:
    """True when the policy removes ``char`` wherever it appears (whitespace is folded, not removed)."""
    if char in _JOINERS:
        return False
    if char in _FILLERS or _variation_selector(char):
        return True
    if char.isspace():
        return False
    return unicodedata.category(char) in _REMOVED_CATEGORIES


def _variation_selector(char: str) -> bool:
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def _fold(text: str, *, multiline: bool) -> str:
    out: list[str] = []
    for char in text:
        if char.isspace():
            if multiline and char in _LINE_BREAKS:
                out.append("\n")
            elif multiline and char == "\t":
                out.append("\t")
            else:
                out.append(" ")
        elif not forbidden(char):
            out.append(char)
    folded = "".join(out)
    if multiline:
        return folded
    return _SPACES.sub(" ", folded).strip()


def clean(text: str | None) -> str | None:
    """One-line ``text`` under the policy (None stays None): invisible characters gone, whitespace runs one space."""
    if text is None:
        return None
    if _PLAIN.fullmatch(text) and "  " not in text and text == text.strip():
        return text
    return _fold(text, multiline=False)


def clean_text(text: str | None) -> str | None:
    """Free ``text`` (a description, a note) under the policy: lines kept (``\\r\\n`` becomes ``\\n``)."""
    if text is None:
        return None
    if _PLAIN_TEXT.fullmatch(text):
        return text
    return _fold(text.replace("\r\n", "\n"), multiline=True)


def quote(text: str | None, limit: int = 60) -> str:
    """``text`` as the server cites it: one line, at most ``limit`` characters, in quotation marks; “…” when cut."""
    line = clean(text) or ""
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return f"“{line}”"


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


# -- the boundary -----------------------------------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: Saudi mobile numbers in their usual spellings, and any international number of 9 to 14 digits.
_PHONE = re.compile(r"(?<![\w+])(?:(?:\+|00)\d{9,14}|05\d{8})(?!\w)")
_EMAIL_KEYS = ("email",)
_PHONE_KEYS = ("phone", "mobile")
#: Address parts hidden with ``redact``: the city and country stay, enough for shipping questions.
_ADDRESS_KEYS = frozenset(
    {"line1", "line2", "street", "address", "address1", "address2", "postal_code", "zip", "building", "district"}
)


def _redact_free_text(text: str) -> str:
    text = _EMAIL.sub(lambda m: mask_email(m.group()) or "***", text)
    return _PHONE.sub(lambda m: mask_phone(m.group()) or "***", text)


def _redacted(value: str, key: str) -> str | None:
    if any(word in key for word in _EMAIL_KEYS):
        return mask_email(value)
    if any(word in key for word in _PHONE_KEYS):
        return mask_phone(value)
    return _redact_free_text(value)


def present(data: Any, *, redact: bool = False, key: str = "") -> Any:
    """``data`` (JSON-like) as the model may see it: every string under the policy, personal data masked on request.

    Strings under a key of :data:`MULTILINE_FIELDS` keep their lines; every other string is one line. With
    ``redact``, values under email and phone keys are masked, an address keeps only its city and country (enough
    for shipping questions; street-level parts elsewhere are dropped too), and emails and phone numbers inside free
    text are masked. Keys are cleaned like values.
    """
    if isinstance(data, str):
        value = clean_text(data) if key in MULTILINE_FIELDS else clean(data)
        return _redacted(value, key.lower()) if redact and value else value
    if isinstance(data, Mapping):
        if redact and key.lower().endswith("address"):
            data = {k: v for k, v in data.items() if k in ("city", "country")}
        return {
            clean(str(k)) or "": present(v, redact=redact, key=str(k))
            for k, v in data.items()
            if not (redact and str(k).lower() in _ADDRESS_KEYS)
        }
    if isinstance(data, list | tuple):
        return [present(v, redact=redact, key=key) for v in data]
    return data
