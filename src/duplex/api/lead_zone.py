"""A lead's time zone from its address when its number may ring in several zones.

A US toll-free number, an Australian or Russian mobile, or an area code across a zone line (Idaho's 208) gives
no one zone; the lead's postcode or state/province (read in the number's country) often does:

* US: the ZIP code's zone (the `zipcodes` package: the USPS ZIP list with each code's IANA zone, offline), else
  the zones of the state's ZIP codes;
* Canada: the province, from the postal code's first letter or a province code (the zones each province uses,
  below: a province across a zone line keeps all of its zones, so it settles nothing there);
* Australia: the zone of the postcode's range (Australia Post's allocation by state; Broken Hill, 2880, keeps
  South Australian time, Lord Howe Island, 2898, its own), or a state code's zones.

The address's zones are kept where they agree with one of the number's zones (the same clock all year), or,
when none does, taken as they are (the number's list is where its numbering plan rings, the address is where
the callee lives). One clock left: that zone. Otherwise none, and the dialer skips the lead (`no_timezone`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import zipcodes

__all__ = ["Address", "address_zone", "address_zones"]

# zipcodes ships without annotations: its two look-ups, typed as documented (a list of records as dicts)
_zip_matching: Callable[[str], list[dict[str, Any]]] = zipcodes.matching
_zip_state: Callable[[str], list[dict[str, Any]]] = zipcodes.filter_by_state

# Columns a lead file may have (custom fields, matched case-insensitively with spaces read as _).
POSTCODE_KEYS = ("postcode", "postal_code", "post_code", "zip", "zip_code", "zipcode")
REGION_KEYS = ("state", "province", "region")

CA_PROVINCE_ZONES: Mapping[str, tuple[str, ...]] = {
    "AB": ("America/Edmonton",),
    "BC": ("America/Vancouver", "America/Edmonton", "America/Creston", "America/Fort_Nelson"),
    "MB": ("America/Winnipeg",),
    "NB": ("America/Moncton",),
    "NL": ("America/St_Johns", "America/Goose_Bay"),
    "NS": ("America/Halifax",),
    "NT": ("America/Edmonton",),
    "NU": ("America/Iqaluit", "America/Rankin_Inlet", "America/Cambridge_Bay"),
    "ON": ("America/Toronto", "America/Winnipeg", "America/Atikokan"),
    "PE": ("America/Halifax",),
    "QC": ("America/Toronto", "America/Halifax", "America/Blanc-Sablon"),
    "SK": ("America/Regina", "America/Edmonton"),
    "YT": ("America/Whitehorse",),
}
CA_POSTAL_PROVINCES: Mapping[str, tuple[str, ...]] = {  # the postal code's first letter
    "A": ("NL",), "B": ("NS",), "C": ("PE",), "E": ("NB",), "G": ("QC",), "H": ("QC",), "J": ("QC",),
    "K": ("ON",), "L": ("ON",), "M": ("ON",), "N": ("ON",), "P": ("ON",), "R": ("MB",), "S": ("SK",),
    "T": ("AB",), "V": ("BC",), "X": ("NT", "NU"), "Y": ("YT",),
}  # fmt: skip
AU_STATE_ZONES: Mapping[str, tuple[str, ...]] = {
    "NSW": ("Australia/Sydney", "Australia/Broken_Hill", "Australia/Lord_Howe"),
    "ACT": ("Australia/Sydney",),
    "VIC": ("Australia/Melbourne",),
    "QLD": ("Australia/Brisbane",),
    "SA": ("Australia/Adelaide",),
    "WA": ("Australia/Perth", "Australia/Eucla"),
    "TAS": ("Australia/Hobart",),
    "NT": ("Australia/Darwin",),
}
# (first, last, zone) postcode ranges (Australia Post's allocation by state); the towns off their state's
# clock first: Broken Hill (NSW) on South Australian time, Lord Howe Island, Eucla (WA)
AU_POSTCODES: tuple[tuple[int, int, str], ...] = (
    (2880, 2880, "Australia/Broken_Hill"), (2898, 2898, "Australia/Lord_Howe"), (6443, 6443, "Australia/Eucla"),
    (200, 299, "Australia/Sydney"), (2600, 2618, "Australia/Sydney"), (2900, 2920, "Australia/Sydney"),  # ACT
    (800, 999, "Australia/Darwin"), (1000, 2999, "Australia/Sydney"), (3000, 3999, "Australia/Melbourne"),
    (8000, 8999, "Australia/Melbourne"), (4000, 4999, "Australia/Brisbane"), (9000, 9999, "Australia/Brisbane"),
    (5000, 5999, "Australia/Adelaide"), (6000, 6999, "Australia/Perth"), (7000, 7999, "Australia/Hobart"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Address:
    postcode: str | None = None
    region: str | None = None  # a state or province: its code (TX, ON, NSW) as the post writes it

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Address | None:
        """The postcode and region among a lead's extra columns, if it has either."""
        normal = {"_".join(k.strip().lower().split()): v.strip() for k, v in fields.items() if v.strip()}
        postcode = next((normal[k] for k in POSTCODE_KEYS if k in normal), None)
        region = next((normal[k] for k in REGION_KEYS if k in normal), None)
        return cls(postcode, region) if postcode or region else None


@functools.cache
def _us_state_zones(state: str) -> frozenset[str]:
    return frozenset(z["timezone"] for z in _zip_state(state) if z.get("timezone"))


def _us(address: Address) -> frozenset[str]:
    postcode = re.sub(r"\s", "", address.postcode or "")
    if re.fullmatch(r"\d{5}(-?\d{4})?", postcode):
        found = {z["timezone"] for z in _zip_matching(postcode[:5]) if z.get("timezone")}
        if found:
            return frozenset(found)
    state = (address.region or "").upper()
    return _us_state_zones(state) if re.fullmatch(r"[A-Z]{2}", state) else frozenset()


def _ca(address: Address) -> frozenset[str]:
    postcode = (address.postcode or "").strip().upper()
    provinces: Iterable[str] = ()
    if re.fullmatch(r"[A-Z]\d[A-Z] ?\d[A-Z]\d", postcode):
        provinces = CA_POSTAL_PROVINCES.get(postcode[0], ())
    elif address.region:
        provinces = (address.region.strip().upper(),)
    return frozenset(z for p in provinces for z in CA_PROVINCE_ZONES.get(p, ()))


def _au(address: Address) -> frozenset[str]:
    postcode = (address.postcode or "").strip()
    if re.fullmatch(r"\d{3,4}", postcode):
        number = int(postcode)
        for first, last, zone in AU_POSTCODES:
            if first <= number <= last:
                return frozenset({zone})
    return frozenset(AU_STATE_ZONES.get((address.region or "").strip().upper(), ()))


_BY_COUNTRY = {"US": _us, "CA": _ca, "AU": _au}


def address_zones(country: str | None, address: Address) -> frozenset[str]:
    """The zones the address may be in, read in the number's `country` (ISO code); empty when unknown."""
    reader = _BY_COUNTRY.get(country or "")
    return reader(address) if reader is not None else frozenset()


@functools.cache
def _clock(zone: str, year: int) -> tuple[dt.timedelta | None, ...]:
    """The zone's UTC offset on the 1st and the 15th of each month: zones with the same clock all year."""
    info = ZoneInfo(zone)
    days = (dt.datetime(year, month, day, 12, tzinfo=dt.UTC) for month in range(1, 13) for day in (1, 15))
    return tuple(d.astimezone(info).utcoffset() for d in days)


def address_zone(
    country: str | None, number_zones: Iterable[str], address: Address, *, year: int
) -> str | None:
    """The one zone (one clock) the address leaves among the number's zones, or None."""
    zones = sorted(address_zones(country, address))
    number_clocks = {_clock(z, year) for z in number_zones}
    agreeing = [z for z in zones if _clock(z, year) in number_clocks]
    candidates = agreeing or zones
    if candidates and len({_clock(z, year) for z in candidates}) == 1:
        return candidates[0]
    return None
