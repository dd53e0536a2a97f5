"""Hand-built event sequences for the KPI tests: one inbound day on queue 1 and one outbound campaign.

Times are seconds after DAY (2026-03-02 00:00 UTC); the expected values in the tests are worked out by
hand from the timelines written next to each call below.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from duplex.events.types import EventEnvelope, payload_of

DAY = int(dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp() * 1000)
DAY_END = DAY + 86_400_000
SALE = 7  # the success disposition's id
_ids = itertools.count(1)


def ev(t_s: float, type_: str, call: str | None = None, **kw: Any) -> EventEnvelope:
    """An event at DAY + t_s seconds; envelope ids go in keywords agent/queue/campaign/lead, the rest is
    data, checked against the event type's payload class."""
    env = {k: kw.pop(k) for k in ("agent", "queue", "campaign", "lead") if k in kw}
    data = payload_of(type_, kw).to_data()
    n = next(_ids)
    return EventEnvelope(
        id=n, node_id="t", seq=n, type=type_, ts_ms=DAY + int(t_s * 1000), call_id=call,
        agent_id=env.get("agent"), queue_id=env.get("queue"), campaign_id=env.get("campaign"),
        lead_id=env.get("lead"), data=data,
    )  # fmt: skip


def created(
    t: float, call: str, frm: str, source: str | None, direction: str = "inbound", **kw: Any
) -> EventEnvelope:
    return ev(t, "call.created", call, direction=direction, **{"from": frm}, to="+40215550100",
              tracking_source=source, phone_number_id=None, **kw)  # fmt: skip


def ended(t: float, call: str) -> EventEnvelope:
    return ev(t, "call.ended", call, reason="caller_hangup", answered=True, hangup_by="remote", leg_kind="caller",
              sip_status=None)  # fmt: skip


def state(t: float, agent: int, frm: str | None, to: str) -> EventEnvelope:
    return ev(t, "agent.state_changed", agent=agent, **{"from": frm}, to=to, reason=None, by_user_id=None)


def quality(t: float, call: str, mos: float) -> EventEnvelope:
    return ev(t, "call.quality", call, codec="PCMU", packets_expected=100, packets_received=100, packets_lost=0,
              loss_ratio=0.0, jitter_ms=1.0, late=0, packets_sent=100, remote_reports=0,
              remote_fraction_lost=None, remote_packets_lost=None, remote_loss_ratio=None, remote_jitter_ms=None,
              rtt_ms=None, mos_received=mos, mos_sent=None, mos=mos)  # fmt: skip


def inbound_day() -> list[EventEnvelope]:
    return [
        # g: began the day before, answered after midnight: belongs to the day before
        created(-50, "g", "+409", None), ev(-50, "queue.entered", "g", queue=1),
        ev(5, "queue.left", "g", queue=1, reason="answered", waited_ms=55_000),
        # agent 1: available since before the day; on_call 110-230, wrap_up 230-260, break 1000-1600, offline 3000
        state(-1000, 1, None, "available"), state(110, 1, "available", "on_call"),
        state(230, 1, "on_call", "wrap_up"), state(260, 1, "wrap_up", "available"),
        state(1000, 1, "available", "break"), state(1600, 1, "break", "available"),
        state(3000, 1, "available", "offline"),
        # a: waits 10 s, agent 1 answers at 110, hold 150-170, ends 230: talk 100, hold 20, wrap 30; sale 100
        created(100, "a", "+401", "google"), ev(100, "call.answered", "a"), ev(100, "queue.entered", "a", queue=1),
        ev(108, "agent.offered", "a", agent=1, queue=1), ev(110, "agent.accepted", "a", agent=1, queue=1),
        ev(110, "queue.left", "a", queue=1, reason="answered", waited_ms=10_000),
        ev(150, "call.held", "a", by="duplex"), ev(170, "call.resumed", "a", by="duplex"),
        ended(230, "a"), quality(230, "a", 4.2), quality(230, "a", 3.8),
        ev(240, "disposition.set", "a", disposition_id=SALE, code="sale", notes="", revenue=100.0, by_user_id=3),
        ev(250, "csat.recorded", "a", score=4),
        # b: waits 30 s (misses the 20 s level), agent 2 answers at 230, transfers at 290, ends 330: talk 100
        created(200, "b", "+402", "google"), ev(200, "call.answered", "b"), ev(200, "queue.entered", "b", queue=1),
        ev(230, "agent.accepted", "b", agent=2, queue=1),
        ev(230, "queue.left", "b", queue=1, reason="answered"),  # no waited_ms: left - entered = 30 s
        ev(290, "call.transferred", "b", target="200", kind="blind", method="REFER"), ended(330, "b"),
        # c: abandons after 3 s (short abandon)
        created(300, "c", "+403", None), ev(300, "queue.entered", "c", queue=1),
        ev(303, "queue.left", "c", queue=1, reason="abandoned", waited_ms=3_000), ended(303, "c"),
        # d: +401 again (a was not resolved), abandons after 60 s
        created(400, "d", "+401", "bing"), ev(400, "queue.entered", "d", queue=1),
        ev(460, "queue.left", "d", queue=1, reason="abandoned", waited_ms=60_000), ended(460, "d"),
        # e: still waiting at the end of the events
        created(500, "e", "+404", None), ev(500, "queue.entered", "e", queue=1),
        # f: begins 10 s before midnight, waits 15 s, agent 1 answers after midnight, ends 95 s later
        created(86_390, "f", "+405", None), ev(86_390, "queue.entered", "f", queue=1),
        ev(86_405, "agent.accepted", "f", agent=1, queue=1),
        ev(86_405, "queue.left", "f", queue=1, reason="answered", waited_ms=15_000), ended(86_500, "f"),
    ]  # fmt: skip


def campaign_day() -> list[EventEnvelope]:
    def dialed(t: float, call: str, lead: int, attempt: int) -> list[EventEnvelope]:
        return [ev(t, "lead.dialed", call, campaign=5, lead=lead, phone="+40712000000", attempt=attempt,
                   mode="progressive"), created(t, call, "+40215550102", None, "outbound", campaign=5, lead=lead)]  # fmt: skip

    return [
        # h: first attempt, answered 1010, a person, agent 2 at 1013, sale 50, ends 1130: billed 120 s
        *dialed(1000, "h", 1, 1), ev(1010, "call.answered", "h", campaign=5),
        ev(1012, "call.outcome", "h", campaign=5, outcome="human"),
        ev(1013, "agent.accepted", "h", agent=2, campaign=5),
        ev(1100, "disposition.set", "h", disposition_id=SALE, code="sale", notes="", revenue=50.0, by_user_id=4),
        ended(1130, "h"),
        # i: second attempt, a person, nobody takes it: abandoned; billed 5 s
        *dialed(2000, "i", 2, 2), ev(2010, "call.answered", "i"), ev(2011, "call.outcome", "i", outcome="human"),
        ended(2015, "i"),
        # j: first attempt, no answer
        *dialed(3000, "j", 3, 1), ev(3030, "call.outcome", "j", outcome="no_answer"), ended(3030, "j"),
        # k: first attempt, a machine: billed 30 s
        *dialed(4000, "k", 4, 1), ev(4010, "call.answered", "k"), ev(4012, "call.outcome", "k", outcome="machine"),
        ended(4040, "k"),
        ev(5000, "lead.skipped", campaign=5, lead=5, reason="dnc"),
    ]  # fmt: skip
