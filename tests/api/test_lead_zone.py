"""A lead's time zone from its postcode or state/province when its number may ring in several zones (US ZIP
codes through the `zipcodes` data, Canadian provinces, Australian postcode ranges), through the import reader."""

from __future__ import annotations

import io

import pytest

from duplex.api.lead_csv import LeadRow, csv_records, read_leads
from duplex.api.lead_zone import Address, address_zone, address_zones

AU_MOBILE = "+61412345678"  # eight zones by the numbering plan
US_TOLL_FREE = "+18005551234"  # every North American zone
IDAHO = "+12085550123"  # area code 208: Boise (Mountain) and Los Angeles (Pacific)


def _zones(rows: str, **options: object) -> list[str | None]:
    stream = read_leads(csv_records(io.BytesIO(rows.encode())), region=None, **options)  # type: ignore[arg-type]
    out = []
    for row in stream.rows:
        assert isinstance(row, LeadRow), row
        out.append(row.zone)
    return out


@pytest.mark.parametrize(
    ("phone", "postcode", "state", "zone"),
    [
        (AU_MOBILE, "2000", "", "Australia/Sydney"),  # Sydney
        (AU_MOBILE, "0800", "", "Australia/Darwin"),  # no DST: none of the number's zones has its clock
        (AU_MOBILE, "3000", "", "Australia/Melbourne"),  # Sydney's clock, Melbourne's name
        (AU_MOBILE, "6000", "", "Australia/Perth"),
        (AU_MOBILE, "2880", "", "Australia/Broken_Hill"),  # in NSW, on South Australian time
        (AU_MOBILE, "", "QLD", "Australia/Brisbane"),
        (AU_MOBILE, "", "NSW", None),  # Sydney, Broken Hill, Lord Howe: three clocks
        (AU_MOBILE, "99999", "", None),  # not an Australian postcode
        (US_TOLL_FREE, "10001", "", "America/New_York"),
        (US_TOLL_FREE, "90210-1234", "", "America/Los_Angeles"),
        (US_TOLL_FREE, "", "TX", None),  # Texas has Central and Mountain
        (US_TOLL_FREE, "", "NY", "America/New_York"),
        (IDAHO, "83702", "", "America/Boise"),  # Boise
        (IDAHO, "83814", "", "America/Los_Angeles"),  # Coeur d'Alene, in the north
        (IDAHO, "", "ID", None),  # the state has both
        (US_TOLL_FREE, "00000", "", None),  # no such ZIP code
        ("+79161234567", "101000", "", None),  # Russia: no postcode data, the number's zones stay
    ],
)
def test_a_postcode_or_state_settles_a_number_with_several_zones(
    phone: str, postcode: str, state: str, zone: str | None
) -> None:
    assert _zones(f"phone,Postcode,State\n{phone},{postcode},{state}\n") == [zone]


def test_a_number_with_one_zone_keeps_it_and_a_timezone_cell_wins() -> None:
    rows = "phone,zip,timezone\n+12125550123,90210,\n+18005551234,90210,America/Chicago\n"
    assert _zones(rows) == ["America/New_York", None]  # a timezone cell: no derived zone (the cell is used)


def test_without_an_address_the_campaign_zone_still_decides() -> None:
    rows = f"phone,postal code\n{AU_MOBILE},\n{AU_MOBILE},6000\n"
    assert _zones(rows, preferred_zone="Australia/Sydney") == ["Australia/Sydney", "Australia/Perth"]


def test_canadian_provinces_from_the_postal_code_or_a_province_code() -> None:
    assert address_zones("CA", Address("T2P 1J9")) == {"America/Edmonton"}
    assert address_zones("CA", Address(None, "mb")) == {"America/Winnipeg"}
    assert "America/Winnipeg" in address_zones("CA", Address("P7B 5E1"))  # north-western Ontario
    # the area code gives Toronto and Winnipeg (made up here): the Alberta code agrees with neither, the
    # Ontario one with both
    both = ("America/Toronto", "America/Winnipeg")
    assert address_zone("CA", both, Address("T2P 1J9"), year=2026) == "America/Edmonton"
    assert address_zone("CA", both, Address("M5V 3L9"), year=2026) is None


def test_address_columns_are_found_by_their_usual_names() -> None:
    assert Address.from_fields({"ZIP Code": " 10001 ", "Province": ""}) == Address("10001", None)
    assert Address.from_fields({"Post Code": "2000", "Region": "NSW"}) == Address("2000", "NSW")
    assert Address.from_fields({"interest": "solar"}) is None
