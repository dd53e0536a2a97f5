"""Lead CSV import and export: per-row errors with line numbers, exact counts, DNC flags, duplicates, one
event per import, streamed export that imports again, size limits."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest_api import World

from duplex.api.lead_io import ImportLimits
from duplex.db.models import AuditLog, Event, Lead

A, S, G = "admin", "sup", "agent"
HEADER = b"phone,first_name,last_name,email,company,timezone,priority,external_id,tier\n"
# Seed: list 1 already holds +40712345678; +40722000000 is on the do-not-call list.
MIXED = HEADER + (
    b"0712345001,Ana,Pop,ana@example.com,ACME,Europe/Bucharest,5,crm-1,gold\n"  # 2: imported
    b"not-a-phone,Bad,Phone,,,,,,\n"  # 3: rejected (phone)
    b"+40712345002,Tz,Bad,,,Mars/Olympus,,,\n"  # 4: rejected (timezone)
    b"+40712345003,Short\n"  # 5: rejected (column count)
    b"+40712345678,Dup,Existing,,,,,,\n"  # 6: duplicate of the seeded lead
    b"0722000000,Do,Not,,,,,,\n"  # 7: imported, flagged dnc
    b"+40712345004,Caf\xe9,,,,,,,\n"  # 8: rejected (Latin-1 byte, not UTF-8)
    b"+40712345001,Ana,Again,,,,,,\n"  # 9: duplicate of line 2
    b"+40712345005,P,X,,,,high,,\n"  # 10: rejected (priority)
    b"\n"  # 11: blank, skipped
    b'+40712345006,"Last,\nRow",,,,,-2,,silver\n'  # 12-13: imported (quoted field over two lines)
    b"+40712345007,,,,,Europe/Nowhere,1.5,,\n"  # 14: rejected twice (timezone, priority)
)
MIXED_ERRORS = [
    {"row": 3, "field": "phone"},
    {"row": 4, "field": "timezone", "message": "unknown IANA time zone 'Mars/Olympus'"},
    {"row": 5, "field": None, "message": "expected 9 columns, got 2"},
    {"row": 8, "field": "first_name", "message": "not valid UTF-8"},
    {"row": 10, "field": "priority", "message": "priority must be an integer, got 'high'"},
    {"row": 14, "field": "timezone", "message": "unknown IANA time zone 'Europe/Nowhere'"},
    {"row": 14, "field": "priority", "message": "priority must be an integer, got '1.5'"},
]
COUNTS = {"imported": 3, "updated": 0, "skipped_duplicates": 2, "rejected": 6, "dnc_flagged": 1}


def as_csv(data: bytes) -> dict[str, Any]:
    return {"content": data, "headers": {"content-type": "text/csv"}}


def as_upload(data: bytes, name: str = "leads.csv") -> dict[str, Any]:
    return {"files": {"file": (name, data, "text/csv")}}


def leads_of(world: World, list_id: int) -> dict[str, Lead]:
    return {lead.phone: lead for lead in world.rows(Lead, Lead.list_id == list_id)}


def check_errors(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert [{k: e[k] for k in w} for e, w in zip(got, want, strict=True)] == want


@pytest.mark.parametrize("send", [as_csv, as_upload], ids=["text-csv", "multipart"])
async def test_mixed_file_exact_counts_and_rows(world: World, send: Any) -> None:
    response = await world.as_(S, "POST", "/lead-lists/1/import?region=RO", **send(MIXED))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["counts"] == COUNTS
    assert report["data_rows"] == 11 and report["duplicate_rows"] == [6, 9]
    check_errors(report["errors"], MIXED_ERRORS)
    assert "not a phone number" in report["errors"][0]["message"]
    assert report["errors_truncated"] is False

    leads = leads_of(world, 1)
    assert sorted(leads) == ["+40712345001", "+40712345006", "+40712345678", "+40722000000"]
    ana = leads["+40712345001"]
    assert (ana.first_name, ana.last_name, ana.email, ana.company, ana.timezone, ana.priority) == (
        "Ana", "Pop", "ana@example.com", "ACME", "Europe/Bucharest", 5
    )  # fmt: skip
    assert (ana.external_id, ana.custom, ana.status) == ("crm-1", {"tier": "gold"}, "new")
    assert leads["+40722000000"].status == "dnc"
    assert leads["+40712345006"].first_name == "Last,\nRow" and leads["+40712345006"].priority == -2
    assert leads["+40712345678"].first_name == ""  # the duplicate was skipped, not applied

    (event,) = world.rows(Event, Event.type == "lead.imported")
    assert event.campaign_id == 1 and event.data["list_id"] == 1
    assert {k: event.data[k] for k in COUNTS} == COUNTS
    assert event.data["filename"] == ("leads.csv" if send is as_upload else "")
    assert world.count(Event, Event.type == "lead.created") == 0  # no per-lead flood
    assert world.count(AuditLog, AuditLog.action == "lead_list.import") == 1


async def test_on_duplicate_update(world: World) -> None:
    first = await world.as_(A, "POST", "/lead-lists/1/import?region=RO", **as_csv(MIXED))
    assert first.json()["counts"]["imported"] == 3
    assert (await world.as_(A, "POST", "/dnc", json={"phone": "+40712345678"})).status_code == 201
    update = (
        b"phone,first_name,email,tier\n"
        b"+40712345678,Updated,,bronze\n"  # the seeded lead; now on the DNC list
        b"0712345001,,new@example.com,\n"  # Ana: empty cells change nothing
        b"+40712345009,New,,\n"
        b"+40712345009,Newer,,vip\n"  # an earlier row of the same file
    )
    response = await world.as_(
        A, "POST", "/lead-lists/1/import?region=ro&on_duplicate=update", **as_csv(update)
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["counts"] == {
        "imported": 1, "updated": 3, "skipped_duplicates": 0, "rejected": 0, "dnc_flagged": 1
    }  # fmt: skip
    assert report["errors"] == [] and report["duplicate_rows"] == []
    leads = leads_of(world, 1)
    seeded, ana, new = leads["+40712345678"], leads["+40712345001"], leads["+40712345009"]
    assert (seeded.first_name, seeded.custom, seeded.status) == ("Updated", {"tier": "bronze"}, "dnc")
    assert (ana.first_name, ana.last_name, ana.email, ana.custom) == (
        "Ana", "Pop", "new@example.com", {"tier": "gold"}
    )  # fmt: skip
    assert (new.first_name, new.custom, new.status) == ("Newer", {"tier": "vip"}, "new")
    assert world.count(Lead, Lead.list_id == 1) == 5
    assert world.count(Event, Event.type == "lead.imported") == 2


async def test_dry_run_writes_nothing(world: World) -> None:
    response = await world.as_(A, "POST", "/lead-lists/1/import?region=RO&dry_run=true", **as_csv(MIXED))
    assert response.status_code == 200 and response.json()["dry_run"] is True
    assert response.json()["counts"] == COUNTS
    assert world.count(Lead) == 1 and world.count(Event, Event.type == "lead.imported") == 0


async def test_export_round_trip(world: World) -> None:
    await world.as_(A, "POST", "/lead-lists/1/import?region=RO", **as_csv(MIXED))
    export = await world.as_(S, "GET", "/lead-lists/1/export")
    assert export.status_code == 200
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    assert export.headers["content-disposition"] == 'attachment; filename="lead-list-1.csv"'
    rows = list(csv.DictReader(io.StringIO(export.text, newline="")))
    assert [r["phone"] for r in rows] == ["+40712345678", "+40712345001", "+40722000000", "+40712345006"]
    assert list(rows[0])[-1] == "tier" and rows[1]["tier"] == "gold" and rows[2]["status"] == "dnc"
    assert rows[3]["first_name"] == "Last,\nRow"

    created = await world.as_(S, "POST", "/lead-lists", json={"name": "copy"})
    copy_id = created.json()["id"]
    again = await world.as_(S, "POST", f"/lead-lists/{copy_id}/import", **as_upload(export.content))
    assert again.json()["counts"] == {
        "imported": 4, "updated": 0, "skipped_duplicates": 0, "rejected": 0, "dnc_flagged": 1
    }  # fmt: skip
    fields = ("first_name", "last_name", "email", "company", "priority", "external_id", "status", "custom")
    original, copied = leads_of(world, 1), leads_of(world, copy_id)
    assert sorted(copied) == sorted(original)
    for phone, lead in original.items():
        assert [getattr(copied[phone], f) for f in fields] == [getattr(lead, f) for f in fields], phone
    # The seeded lead has no zone; its empty cell is filled from the number (Romania has one zone).
    assert original["+40712345678"].timezone is None
    assert {lead.timezone for lead in copied.values()} == {"Europe/Bucharest"}
    second = await world.as_(S, "GET", f"/lead-lists/{copy_id}/export")
    ignored = ("id", "created_at", "timezone")
    strip = [{k: v for k, v in r.items() if k not in ignored} for r in rows]
    again_rows = list(csv.DictReader(io.StringIO(second.text, newline="")))
    assert [{k: v for k, v in r.items() if k not in ignored} for r in again_rows] == strip

    only_dnc = await world.as_(S, "GET", "/lead-lists/1/export?status=dnc")
    assert [r["phone"] for r in csv.DictReader(io.StringIO(only_dnc.text))] == ["+40722000000"]
    assert world.count(AuditLog, AuditLog.action == "lead_list.export") == 3


async def test_413_on_bytes(world: World) -> None:
    big = b"phone\n" + b"x" * (20 * 1024 * 1024)
    response = await world.as_(A, "POST", "/lead-lists/1/import", **as_csv(big))
    assert response.status_code == 413 and "larger than 20 MB" in response.json()["detail"]

    world.app.state.lead_import_limits = ImportLimits(max_bytes=1000, max_rows=10)

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: the cap applies while reading
        yield b"phone\n"
        for _ in range(100):
            yield b"+40712345001\n"

    streamed = await world.as_(A, "POST", "/lead-lists/1/import", content=chunked(),
                               headers={"content-type": "text/csv"})  # fmt: skip
    assert streamed.status_code == 413
    upload = await world.as_(A, "POST", "/lead-lists/1/import", **as_upload(b"phone\n" + b"1" * 1000))
    assert upload.status_code == 413 and "larger than" in upload.json()["detail"]
    assert world.count(Lead) == 1 and world.count(Event, Event.type == "lead.imported") == 0


async def test_413_on_rows(world: World) -> None:
    rows = b"phone\n" + b"+40712345001\n" * 200_001  # the default limit: 200 000 data rows
    response = await world.as_(A, "POST", "/lead-lists/1/import", **as_csv(rows))
    assert response.status_code == 413
    assert response.json()["detail"] == "the file has more than 200000 data rows; split it into smaller files"
    world.app.state.lead_import_limits = ImportLimits(max_rows=3)
    four = b"phone\n" + b"".join(b"+4071234500%d\n" % i for i in range(4))
    assert (await world.as_(A, "POST", "/lead-lists/1/import", **as_csv(four))).status_code == 413
    assert (await world.as_(A, "POST", "/lead-lists/1/import", **as_csv(four[:-13]))).status_code == 200
    assert world.count(Lead) == 4


async def test_roles_and_bad_requests(world: World) -> None:
    ok = b"phone\n+40712345001\n"
    assert (await world.as_(G, "POST", "/lead-lists/1/import", **as_csv(ok))).status_code == 403
    assert (await world.as_("none", "POST", "/lead-lists/1/import", **as_csv(ok))).status_code == 401
    assert (await world.as_(G, "GET", "/lead-lists/1/export")).status_code == 403
    assert (await world.as_(A, "POST", "/lead-lists/99/import", **as_csv(ok))).status_code == 404
    assert (await world.as_(A, "GET", "/lead-lists/99/export")).status_code == 404
    wrong_type = await world.as_(A, "POST", "/lead-lists/1/import", json={"phone": "+40712345001"})
    assert wrong_type.status_code == 415
    no_phone = await world.as_(A, "POST", "/lead-lists/1/import", **as_csv(b"name,email\nAna,a@b.c\n"))
    assert no_phone.status_code == 422 and no_phone.json()["detail"][0]["loc"] == ["body", "file"]
    empty = await world.as_(A, "POST", "/lead-lists/1/import", **as_csv(b""))
    assert empty.status_code == 422 and "empty" in empty.json()["detail"][0]["msg"]
    region = await world.as_(A, "POST", "/lead-lists/1/import?region=ZZ", **as_csv(ok))
    assert region.status_code == 422 and region.json()["detail"][0]["loc"] == ["query", "region"]
    no_file = await world.as_(A, "POST", "/lead-lists/1/import", files={"note": (None, "hello")})
    assert no_file.status_code == 422 and no_file.json()["detail"][0]["loc"] == ["body", "file"]
    other = await world.as_(
        A, "POST", "/lead-lists/1/import", files={"csv": ("a.csv", b"phone\n+40712345003")}
    )
    assert other.json()["counts"]["imported"] == 1  # the only file part is taken, whatever its name
    national = await world.as_(A, "POST", "/lead-lists/1/import", **as_csv(b"phone\n0712345002\n"))
    assert national.json()["errors"][0]["message"].endswith("(national numbers need ?region=)")
    assert world.count(Lead) == 2 and world.count(Event, Event.type == "lead.imported") == 2


async def test_semicolons_bom_and_header_names(world: World) -> None:
    data = "\ufeffPhone;First Name;Priority;Notes\r\n+40712345001;Ioana;7;call after 5\r\n".encode()
    report = (await world.as_(A, "POST", "/lead-lists/1/import", **as_csv(data))).json()
    assert report["counts"]["imported"] == 1, report
    (lead,) = world.rows(Lead, Lead.phone == "+40712345001")
    assert (lead.first_name, lead.priority, lead.custom) == ("Ioana", 7, {"Notes": "call after 5"})


async def test_nul_and_overlong_values_are_row_errors(world: World) -> None:
    """Values PostgreSQL would refuse (NUL characters, text longer than the column) must be row errors,
    not a failed transaction for the whole file."""
    data = (
        b"phone,first_name,note\n"
        b"+40712345001,Ana\x00,x\n"
        b"+40712345002,Bob,x\x00y\n" + b"+40712345003," + b"n" * 65 + b",\n" + b"+40712345004,Dan,ok\n"
    )
    report = (await world.as_(A, "POST", "/lead-lists/1/import", **as_csv(data))).json()
    assert report["counts"]["imported"] == 1 and report["counts"]["rejected"] == 3
    assert [(e["row"], e["field"], e["message"]) for e in report["errors"]] == [
        (2, "first_name", "contains a NUL character"),
        (3, "note", "contains a NUL character"),
        (4, "first_name", "longer than 64 characters"),
    ]
    assert [lead.phone for lead in world.rows(Lead, Lead.list_id == 1)] == ["+40712345678", "+40712345004"]
