"""Callers' numbers as the CRM matches them: every spelling a SIP From user arrives in."""

from __future__ import annotations

import pytest

from duplex.crm import match_keys, normalise
from duplex.crm.phones import region_of


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+40721000001", None, "+40721000001"),
        ("+40 721 000 001", None, "+40721000001"),
        ("0040721000001", None, "+40721000001"),
        ("40721000001", None, "+40721000001"),  # international without the plus
        ("0721000001", "RO", "+40721000001"),  # national, read in the region of the number dialled
        ("0721000001", "ro", "+40721000001"),
        ("0721000001", None, None),  # national without a region: unknown
        ("+393471000003", "RO", "+393471000003"),  # an explicit country wins over the region
        ("anonymous", "RO", None),
        ("sipp", None, None),
        ("", "RO", None),
        ("+4072", None, None),  # too short to be a number
        ("2001", "RO", None),  # an extension
    ],
)
def test_normalise(raw: str, region: str | None, expected: str | None) -> None:
    assert normalise(raw, region) == expected


def test_region_of_the_number_dialled() -> None:
    assert region_of("+40215550100") == "RO"
    assert region_of("+36301000004") == "HU"
    assert region_of("1000") is None
    assert region_of("+999") is None


def test_match_keys_cover_the_spellings_of_one_number() -> None:
    keys = match_keys("0721000001", "+40721000001")
    assert {"0721000001", "+40721000001", "40721000001", "0040721000001"} <= keys
    assert match_keys("sipp", None) == frozenset({"sipp"})
    assert match_keys("  ", None) == frozenset()
