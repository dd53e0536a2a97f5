"""`duplex demo seed` publishes the demo flow on 1000, valid against the queues it seeds."""

from __future__ import annotations

from sqlalchemy import select

from duplex.config import Settings
from duplex.db.base import make_engine, make_session_factory
from duplex.db.models import IvrFlow, IvrFlowVersion, PhoneNumber, Queue
from duplex.demo import seed
from duplex.ivr import CallContext, Digit, Enqueue, FlowRun, PromptDone, demo_flow, load_flow


def published_demo(settings: Settings) -> tuple[int, dict[str, object], set[str | int]]:
    engine = make_engine(settings.effective_database_url)
    with make_session_factory(engine)() as s:
        number = s.scalars(select(PhoneNumber).filter_by(number="1000")).one()
        flow = s.get(IvrFlow, number.flow_id)
        assert flow is not None and flow.published_version is not None
        version = s.scalars(
            select(IvrFlowVersion).filter_by(flow_id=flow.id, version=flow.published_version)
        ).one()
        queues: set[str | int] = set(s.scalars(select(Queue.name)))
        result = (version.version, version.definition, queues)
    engine.dispose()
    return result


def test_demo_seed_publishes_the_validated_demo_flow_once(settings: Settings) -> None:
    seed(settings)
    version, definition, queues = published_demo(settings)
    assert definition == demo_flow()
    flow = load_flow(definition, known_queues=queues, known_prompts=set())
    seed(settings)
    assert published_demo(settings)[0] == version  # unchanged flow: no new version

    # 1000 on a Monday morning in Bucharest: the menu, then 2 for support.
    run = FlowRun(flow, CallContext(caller_id="+40721000001", called_number="1000"))
    monday_10 = 1796630400.0  # 2026-12-07 08:00 UTC = 10:00 EET
    assert run.start(monday_10)
    run.handle(PromptDone(), monday_10 + 8)
    out = run.handle(Digit(digit="2"), monday_10 + 9)
    assert Enqueue(queue="support-l1", skills=(("support", None),), priority=0, max_wait_seconds=900) in out
