"""Each routing strategy picks the agent it names (random ones under a seeded random.Random)."""

from __future__ import annotations

import random
from collections import Counter

from acd_helpers import agent, center, offers, serve

from duplex.acd import AgentState, QueueConfig, RoutingStrategy


def q(strategy: RoutingStrategy, **kw: object) -> QueueConfig:
    return QueueConfig(queue_id="q", strategy=strategy, wrap_up_seconds=0, **kw)  # type: ignore[arg-type]


def test_longest_idle_agent_gets_the_call() -> None:
    acd = center([q(RoutingStrategy.LONGEST_IDLE)], [agent(n, "q") for n in "abc"])
    acd.enqueue("c1", "q", 10)
    assert offers(acd.events()) == [("c1", "a")]
    serve(acd, "a", 11)  # a is idle again since 21, after b and c
    acd.enqueue("c2", "q", 30)
    acd.enqueue("c3", "q", 31)
    acd.enqueue("c4", "q", 32)
    assert offers(acd.events()) == [("c2", "b"), ("c3", "c"), ("c4", "a")]


def test_least_talk_time_prefers_the_agent_who_talked_least() -> None:
    acd = center([q(RoutingStrategy.LEAST_TALK_TIME)], [agent(n, "q") for n in "abc"])
    for call, name, talk in (("c1", "a", 5.0), ("c2", "b", 50.0), ("c3", "c", 20.0)):
        acd.enqueue(call, "q", 1)
        assert offers(acd.events()) == [(call, name)]
        serve(acd, name, 1, talk)
    acd.enqueue("c4", "q", 100)
    acd.enqueue("c5", "q", 100)
    acd.enqueue("c6", "q", 100)
    assert offers(acd.events()) == [("c4", "a"), ("c5", "c"), ("c6", "b")]


def test_fewest_calls_prefers_the_agent_with_fewest_answered() -> None:
    acd = center([q(RoutingStrategy.FEWEST_CALLS)], [agent(n, "q") for n in "ab"])
    acd.enqueue("c1", "q", 1)
    serve(acd, "a", 1, 100)
    acd.enqueue("c2", "q", 200)  # b has answered none, a one; both idle
    assert offers(acd.events())[-1] == ("c2", "b")
    serve(acd, "b", 200, 1)
    acd.enqueue("c3", "q", 300)  # both answered one: tie broken by agent id
    assert offers(acd.events())[-1] == ("c3", "a")


def test_linear_top_down_always_starts_from_the_first_member() -> None:
    agents = [agent("x", "q", order=2), agent("y", "q", order=0), agent("z", "q", order=1)]
    acd = center([q(RoutingStrategy.LINEAR_TOP_DOWN)], agents)
    for i in range(3):
        acd.enqueue(f"c{i}", "q", 10 + i)
        serve(acd, offers(acd.events())[0][1], 10 + i, 0.1)
    acd.enqueue("c9", "q", 20)
    acd.enqueue("c10", "q", 20)
    assert offers(acd.events()) == [("c9", "y"), ("c10", "z")]


def test_round_robin_continues_after_the_last_offered_agent() -> None:
    agents = [agent(n, "q", order=i) for i, n in enumerate("abcd")]
    acd = center([q(RoutingStrategy.ROUND_ROBIN)], agents)
    picked = []
    for i in range(6):
        acd.enqueue(f"c{i}", "q", 10 + i)
        ((_, name),) = offers(acd.events())
        picked.append(name)
        serve(acd, name, 10 + i, 0.1)
    assert picked == ["a", "b", "c", "d", "a", "b"]
    acd.aux("c", "lunch", 20)  # memory skips an absent member and wraps around
    for i in range(3):
        acd.enqueue(f"d{i}", "q", 21 + i)
        ((_, name),) = offers(acd.events())
        picked.append(name)
        serve(acd, name, 21 + i, 0.1)
    assert picked[6:] == ["d", "a", "b"]


def test_skills_best_match_takes_the_most_proficient_free_agent() -> None:
    agents = [agent("low", ("q", 2)), agent("high", ("q", 5)), agent("mid", ("q", 4))]
    acd = center([q(RoutingStrategy.SKILLS_BASED)], agents)
    for i in range(3):
        acd.enqueue(f"c{i}", "q", 10)
    assert offers(acd.events()) == [("c0", "high"), ("c1", "mid"), ("c2", "low")]


def test_ring_all_rings_everyone_and_the_first_to_accept_wins() -> None:
    acd = center([q(RoutingStrategy.RING_ALL, ring_all_limit=2)], [agent(n, "q") for n in "abc"])
    acd.enqueue("c1", "q", 10)
    assert offers(acd.events()) == [("c1", "a"), ("c1", "b")]  # the two longest idle, within the limit
    acd.accept("b", 11)
    assert acd.agent_state("b") is AgentState.ON_CALL
    assert acd.agent_state("a") is AgentState.AVAILABLE
    acd.enqueue("c2", "q", 12)
    assert offers(acd.events()) == [("c2", "a"), ("c2", "c")]


def _share(strategy: RoutingStrategy, seed: int, calls: int = 3000) -> Counter[str]:
    agents = [agent("a", ("q", 1)), agent("b", ("q", 2)), agent("c", ("q", 3))]
    acd = center([q(strategy)], agents, seed=seed)
    picked: Counter[str] = Counter()
    for i in range(calls):
        acd.enqueue(f"c{i}", "q", 10 + i)
        ((_, name),) = offers(acd.events())
        picked[name] += 1
        acd.reject(name, 10 + i)  # back to available after the reject delay, the call waits at the head
        acd.abandon(f"c{i}", 10 + i)
        acd.handle_timer(10 + i + 5)
        acd.events()
    return picked


def test_random_agent_is_uniform_and_reproducible() -> None:
    picked = _share(RoutingStrategy.RANDOM, seed=7)
    assert picked == _share(RoutingStrategy.RANDOM, seed=7)
    assert all(900 < picked[name] < 1100 for name in "abc"), picked
    assert picked != _share(RoutingStrategy.RANDOM, seed=8)


def test_weighted_random_follows_proficiency() -> None:
    picked = _share(RoutingStrategy.WEIGHTED_RANDOM, seed=7)
    # weights 1:2:3 -> about 500, 1000, 1500 of 3000
    assert 400 < picked["a"] < 600 and 880 < picked["b"] < 1120 and 1350 < picked["c"] < 1650, picked


def test_penalty_tiers_come_before_strategy() -> None:
    agents = [agent("a", ("q", 1, 5)), agent("b", ("q", 1, 0)), agent("c", ("q", 1, 0))]
    acd = center([q(RoutingStrategy.LONGEST_IDLE)], agents)
    for i in range(3):
        acd.enqueue(f"c{i}", "q", 10)
    assert offers(acd.events()) == [("c0", "b"), ("c1", "c"), ("c2", "a")]


def test_seeded_rng_is_the_only_randomness() -> None:
    random.seed(1)
    first = _share(RoutingStrategy.RANDOM, seed=3, calls=50)
    random.seed(2)
    assert _share(RoutingStrategy.RANDOM, seed=3, calls=50) == first
