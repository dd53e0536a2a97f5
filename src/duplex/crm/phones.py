"""Callers' numbers as the CRM matches them.

A caller's number arrives as the SIP From user: E.164 ("+40721000001"), international without the plus
("40721000001" or "0040721000001"), national ("0721000001") or not a number at all ("anonymous", "sipp").
`normalise` gives its E.164 form (national numbers are read in a region, normally the one of the number the
caller dialled) or None; contacts and leads store E.164, so that is the key they are found by. Calls keep
the From user as it came, so `match_keys` gives every spelling a past call from the same person may carry.
"""

from __future__ import annotations

import phonenumbers

__all__ = ["match_keys", "normalise", "region_of"]


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def normalise(raw: str, region: str | None = None) -> str | None:
    """`raw` as E.164, or None when it is no valid phone number. Without a leading + or 00 the digits are
    tried as a national number of `region` (ISO 3166 alpha-2) first, then as an international one."""
    text = raw.strip()
    if not text or not any(c.isdigit() for c in text):
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    candidates: list[tuple[str, str | None]] = []
    if text.startswith("+"):
        candidates.append((text, None))
    else:
        if region:
            candidates.append((text, region.upper()))
        candidates.append(("+" + text, None))
    for candidate, in_region in candidates:
        number = _parse(candidate, in_region)
        if number is not None:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def region_of(e164: str) -> str | None:
    """The region (e.g. "RO") of an E.164 number, None if it has none (or is no number)."""
    number = _parse(e164, None) if e164.startswith("+") else None
    if number is None:
        return None
    region = phonenumbers.region_code_for_number(number)
    return region if region and region != "001" else None


def match_keys(raw: str, e164: str | None) -> frozenset[str]:
    """Every spelling of one caller's number a stored call's from/to may hold: as it came, E.164, E.164
    without the plus, with 00, and the national form with its trunk prefix (0721000001)."""
    keys = {raw.strip()} if raw.strip() else set()
    if e164 is not None:
        digits = e164[1:]
        keys |= {e164, digits, "00" + digits}
        number = _parse(e164, None)
        if number is not None:
            national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
            keys.add("".join(c for c in national if c.isdigit()))
    return frozenset(keys)
