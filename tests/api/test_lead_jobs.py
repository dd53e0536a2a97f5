"""Import jobs: a large upload imported in the background with progress, counts and a downloadable error
report; XLSX and column mapping through the API; the CLI's `leads import` and `leads recycle`."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from conftest_api import World
from test_lead_import import COUNTS, MIXED
from test_lead_stream import xlsx

from duplex.api.lead_import import BATCH
from duplex.api.lead_io import ImportLimits
from duplex.cli import main
from duplex.config import Settings
from duplex.db.base import make_engine, make_session_factory
from duplex.db.models import AuditLog, Event, Lead, LeadList

A, S, G = "admin", "sup", "agent"


async def finished(world: World, job: dict[str, Any]) -> dict[str, Any]:
    """Poll the job until it is no longer running; every answer on the way must be consistent."""
    seen = (0.0, 0)
    for _ in range(600):
        current = (await world.as_(S, "GET", f"/lead-imports/{job['id']}")).json()
        assert 0 <= current["progress"] <= 1
        assert (current["progress"], current["rows_done"]) >= seen  # progress never goes back
        seen = (current["progress"], current["rows_done"])
        if current["state"] != "running":
            return current
        await asyncio.sleep(0.05)
    raise AssertionError("the import job did not finish")


async def test_job_imports_with_progress_and_error_report(world: World) -> None:
    good = b"".join(b"+4071%07d,Name %d,solar\n" % (i, i) for i in range(2 * BATCH + 10))
    data = b"phone,first_name,interest\n" + good + b"not-a-phone,Bad,x\n+40712345678,Seeded,x\n+4071,,\n"
    started = await world.as_(S, "POST", "/lead-lists/1/import-jobs?region=RO",
                              files={"file": ("big.csv", data, "text/csv")})  # fmt: skip
    assert started.status_code == 202, started.text
    job = started.json()
    assert (job["state"], job["list_id"], job["filename"], job["total_bytes"]) == (
        "running",
        1,
        "big.csv",
        len(data),
    )
    assert job["errors_url"] == f"/api/v1/lead-imports/{job['id']}/errors"

    done = await finished(world, job)
    assert done["state"] == "done" and done["error"] is None and done["progress"] == 1.0
    rows = 2 * BATCH + 13
    assert done["rows_done"] == done["data_rows"] == rows
    assert done["counts"] == {"imported": 2 * BATCH + 10, "updated": 0, "skipped_duplicates": 1, "rejected": 2,
                              "dnc_flagged": 0}  # fmt: skip
    assert world.count(Lead, Lead.list_id == 1) == 2 * BATCH + 11

    report = await world.as_(S, "GET", job["errors_url"].removeprefix("/api/v1"))
    assert report.status_code == 200 and report.headers["content-type"] == "text/csv; charset=utf-8"
    lines = list(csv.reader(io.StringIO(report.text)))
    assert lines[0] == ["row", "field", "message"]
    assert [(r[0], r[1]) for r in lines[1:]] == [(str(rows - 1), "phone"), (str(rows + 1), "phone")]
    assert "not a phone number" in lines[1][2]
    (event,) = world.rows(Event, Event.type == "lead.imported")
    assert event.data["imported"] == 2 * BATCH + 10 and event.data["filename"] == "big.csv"
    assert world.count(AuditLog, AuditLog.action == "lead_list.import") == 1


async def test_job_with_xlsx_and_mapping(world: World) -> None:
    book = xlsx([["Mobile", "Name", "Interest", "Ignore me"], [40712345001, "Ana", "solar", "x"],
                 ["0712345002", "Bob", "wind", "y"]])  # fmt: skip
    started = await world.as_(
        S, "POST", "/lead-lists/1/import-jobs",
        params=[("region", "RO"), ("map", "Mobile=phone"), ("map", "name=first_name"),
                ("map", "Interest=custom.interest"), ("map", "Ignore me=-")],
        content=book,
        headers={"content-type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    )  # fmt: skip
    assert started.status_code == 202, started.text
    done = await finished(world, started.json())
    assert done["state"] == "done" and done["counts"]["imported"] == 2
    leads = {lead.phone: lead for lead in world.rows(Lead, Lead.list_id == 1)}
    assert (leads["+40712345001"].first_name, leads["+40712345001"].custom) == ("Ana", {"interest": "solar"})
    assert leads["+40712345002"].timezone == "Europe/Bucharest"


async def test_job_failures(world: World) -> None:
    no_phone = await world.as_(S, "POST", "/lead-lists/1/import-jobs",
                               content=b"name\nAna\n", headers={"content-type": "text/csv"})  # fmt: skip
    failed = await finished(world, no_phone.json())
    assert failed["state"] == "failed" and "no 'phone' column" in failed["error"]

    dry = await world.as_(S, "POST", "/lead-lists/1/import-jobs?region=RO&dry_run=true",
                          content=MIXED, headers={"content-type": "text/csv"})  # fmt: skip
    dry_done = await finished(world, dry.json())
    assert dry_done["dry_run"] is True and dry_done["counts"] == COUNTS
    assert world.count(Lead) == 1 and world.count(Event, Event.type == "lead.imported") == 0

    bad_map = await world.as_(S, "POST", "/lead-lists/1/import-jobs?map=phone",
                              content=MIXED, headers={"content-type": "text/csv"})  # fmt: skip
    assert bad_map.status_code == 422 and bad_map.json()["detail"][0]["loc"] == ["query", "map"]
    assert (await world.as_(S, "GET", "/lead-imports/999")).status_code == 404
    assert (await world.as_(S, "GET", "/lead-imports/999/errors")).status_code == 404
    forbidden = await world.as_(G, "POST", "/lead-lists/1/import-jobs", content=MIXED,
                                headers={"content-type": "text/csv"})  # fmt: skip
    assert forbidden.status_code == 403
    assert (await world.as_(G, "GET", f"/lead-imports/{dry.json()['id']}")).status_code == 403
    json_body = await world.as_(S, "POST", "/lead-lists/1/import-jobs", json={"phone": "+40712345001"})
    assert json_body.status_code == 415

    world.app.state.lead_import_limits = ImportLimits(max_job_bytes=len(MIXED) - 1)
    for send in ({"content": MIXED, "headers": {"content-type": "text/csv"}},
                 {"files": {"file": ("big.csv", MIXED * 3000, "text/csv")}}):  # fmt: skip
        too_big = await world.as_(S, "POST", "/lead-lists/1/import-jobs", **send)
        assert too_big.status_code == 413 and "larger than" in too_big.json()["detail"]
    assert world.count(Lead) == 1


def run_cli(settings: Settings, *args: str) -> Any:
    common = ["--database-url", settings.effective_database_url, "--data-dir", str(settings.data_dir)]
    return CliRunner().invoke(main, [*args[:2], *common, *args[2:]])


def test_cli_import_and_recycle(settings: Settings, tmp_path: Path) -> None:
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        s.add(LeadList(name="imported"))
    path = tmp_path / "leads.csv"
    path.write_bytes(b"Mobile,Name,Interest\n0712345001,Ana,solar\nbad,Bob,wind\n0712345002,Cid,wind\n"
                     b"0712345001,Dup,x\n")  # fmt: skip
    errors = tmp_path / "errors.csv"
    args = ["leads", "import", str(path), "--list", "1", "--region", "RO", "--map", "Mobile=phone",
            "--map", "Name=first_name", "--map", "Interest=custom.interest", "--errors", str(errors)]  # fmt: skip
    result = run_cli(settings, *args)
    assert result.exit_code == 0, result.output
    assert "4 data rows" in result.output
    assert "imported 2, updated 0, skipped duplicates 1, rejected 1, flagged dnc 0" in result.output
    assert "line 3: phone: not a phone number" in result.output
    assert errors.read_text().splitlines()[1].startswith("3,phone,not a phone number")
    with sessions() as s:
        leads = {lead.phone: lead for lead in s.query(Lead)}
        assert (leads["+40712345001"].first_name, leads["+40712345001"].custom) == (
            "Ana",
            {"interest": "solar"},
        )
        assert leads["+40712345002"].timezone == "Europe/Bucharest"
        (event,) = s.query(Event).filter(Event.type == "lead.imported")
        assert event.data["via"] == "cli" and event.data["imported"] == 2

    with sessions() as s, s.begin():
        s.query(Lead).update({"status": "done", "last_outcome": "no_answer"})
    recycle = ["leads", "recycle", "--list", "1", "--status", "done", "--outcome", "no_answer",
               "--filter", 'custom.interest == "wind"']  # fmt: skip
    assert "recycled 1 lead(s) of list 1" in run_cli(settings, *recycle).output
    with sessions() as s:
        assert [lead.phone for lead in s.query(Lead).filter(Lead.status == "new")] == ["+40712345002"]
    engine.dispose()

    for bad, message in [
        (["leads", "import", str(path), "--list", "9"], "lead list 9 not found"),
        (["leads", "import", str(path), "--list", "1", "--map", "Mobile"], "write file column=lead field"),
        (["leads", "import", str(path), "--list", "1", "--region", "XX"], "unknown region 'XX'"),
        (["leads", "import", str(path), "--list", "1"], "no 'phone' column"),
        (["leads", "recycle", "--list", "1", "--status", "dnc"], "'dnc' is not one of"),
        (["leads", "recycle", "--list", "1", "--status", "done", "--filter", "x > 1"], "unknown field 'x'"),
    ]:
        outcome = run_cli(settings, *bad)
        assert outcome.exit_code != 0 and message in outcome.output, (bad, outcome.output)
