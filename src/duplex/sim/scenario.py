"""A simulation scenario: parsed from a YAML mapping, every value checked, a broken one refused by its key."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MODES", "AmdSettings", "Scenario", "ScenarioError", "Steps", "parse_scenario"]

MODES = ("progressive", "power", "predictive", "vicidial_adapt", "webitel", "poisson", "oracle")


class ScenarioError(ValueError):
    """A scenario value is missing, unknown or out of range; `key` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True, slots=True)
class Steps:
    """A value that changes at given shift hours: [(at_hour, value), ...] sorted, the first at hour 0."""

    points: tuple[tuple[float, float], ...]
    _hours: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hours", tuple(h for h, _ in self.points))

    def at(self, seconds: float) -> float:
        index = bisect.bisect_right(self._hours, seconds / 3600) - 1
        return self.points[max(0, index)][1]

    def change_hours(self) -> tuple[float, ...]:
        return self._hours[1:]

    @classmethod
    def constant(cls, value: float) -> Steps:
        return cls(((0.0, value),))


@dataclass(frozen=True, slots=True, kw_only=True)
class AmdSettings:
    delay_min: float = 2.5
    delay_max: float = 5.0
    false_positive: float = 0.02  # P(machine verdict | human)
    false_negative: float = 0.10  # P(human verdict | machine)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    shift_hours: float = 8.0
    agents: Steps = Steps.constant(20)
    modes: tuple[str, ...] = ("progressive", "predictive")
    p_human: Steps = Steps.constant(0.30)
    p_machine: Steps = Steps.constant(0.20)
    p_busy_invalid: Steps = Steps.constant(0.05)
    answer_delay: tuple[float, float] = (15.0, 25.0)
    no_answer_ring: float = 20.0
    talk_mean: float = 120.0
    talk_cv: float = 1.0
    wrap: float = 20.0
    amd: AmdSettings | None = AmdSettings()
    abandon_target: float = 0.03
    inbound: Steps | None = None  # arrivals per hour

    @property
    def shift_seconds(self) -> float:
        return self.shift_hours * 3600


_KEYS = (
    "shift_hours agents modes p_human p_machine p_busy_invalid answer_delay no_answer_ring talk wrap amd "
    "abandon_target inbound"
).split()


def _number(key: str, value: Any, *, low: float = 0.0, high: float = float("inf")) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(key, f"expected a number, got {value!r}")
    if not low <= value <= high:
        raise ScenarioError(key, f"{value} is outside [{low}, {high}]")
    return float(value)


def _steps(key: str, value: Any, *, low: float, high: float, integer: bool = False) -> Steps:
    field_name = "count" if integer else "value"
    if not isinstance(value, list):
        number = _number(key, value, low=low, high=high)
        if integer and number != int(number):
            raise ScenarioError(key, f"expected a whole number, got {value!r}")
        return Steps.constant(number)
    points: list[tuple[float, float]] = []
    for i, step in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(step, Mapping) or set(step) != {"at_hour", field_name}:
            raise ScenarioError(where, f"expected {{at_hour, {field_name}}}, got {step!r}")
        hour = _number(f"{where}.at_hour", step["at_hour"])
        number = _number(f"{where}.{field_name}", step[field_name], low=low, high=high)
        if integer and number != int(number):
            raise ScenarioError(f"{where}.{field_name}", f"expected a whole number, got {number!r}")
        if points and hour <= points[-1][0]:
            raise ScenarioError(f"{where}.at_hour", "steps must be in increasing at_hour order")
        points.append((hour, number))
    if not points or points[0][0] != 0:
        raise ScenarioError(key, "the first step must be at_hour 0")
    return Steps(tuple(points))


def _mapping(key: str, value: Any, fields: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or set(value) != fields:
        raise ScenarioError(key, f"expected a mapping with exactly {sorted(fields)}, got {value!r}")
    return value


def parse_scenario(data: Any) -> Scenario:
    """Check a scenario mapping (from YAML); a missing key takes the research scenario's value."""
    if not isinstance(data, Mapping):
        raise ScenarioError("scenario", "expected a mapping of keys")
    for key in data:
        if key not in _KEYS:
            raise ScenarioError(str(key), f"unknown key (known: {', '.join(_KEYS)})")
    base = Scenario()
    values: dict[str, Any] = {}
    if "shift_hours" in data:
        values["shift_hours"] = _number("shift_hours", data["shift_hours"], low=0.01, high=24 * 31)
    if "agents" in data:
        values["agents"] = _steps("agents", data["agents"], low=0, high=100_000, integer=True)
    if "modes" in data:
        modes = data["modes"]
        if not isinstance(modes, list) or not modes or any(m not in MODES for m in modes):
            raise ScenarioError("modes", f"expected a non-empty list of {', '.join(MODES)}; got {modes!r}")
        values["modes"] = tuple(dict.fromkeys(modes))
    for key in ("p_human", "p_machine", "p_busy_invalid"):
        if key in data:
            values[key] = _steps(key, data[key], low=0.0, high=1.0)
    if "answer_delay" in data:
        delay = _mapping("answer_delay", data["answer_delay"], {"min", "max"})
        low = _number("answer_delay.min", delay["min"])
        values["answer_delay"] = (low, _number("answer_delay.max", delay["max"], low=low))
    if "no_answer_ring" in data:
        values["no_answer_ring"] = _number("no_answer_ring", data["no_answer_ring"], low=1.0)
    if "talk" in data:
        talk = _mapping("talk", data["talk"], {"mean", "cv"})
        values["talk_mean"] = _number("talk.mean", talk["mean"], low=1.0)
        values["talk_cv"] = _number("talk.cv", talk["cv"], low=0.01, high=10.0)
    if "wrap" in data:
        values["wrap"] = _number("wrap", data["wrap"])
    if "amd" in data:
        values["amd"] = _amd(data["amd"])
    if "abandon_target" in data:
        values["abandon_target"] = _number("abandon_target", data["abandon_target"], low=0.001, high=0.5)
    if data.get("inbound") is not None:
        values["inbound"] = _steps("inbound", data["inbound"], low=0.0, high=1e6)
    scenario = Scenario(**{**{k: getattr(base, k) for k in base.__dataclass_fields__}, **values})
    _check_probabilities(scenario)
    return scenario


def _amd(value: Any) -> AmdSettings | None:
    if value is None or value is False:
        return None
    amd = _mapping("amd", value, {"delay_min", "delay_max", "false_positive", "false_negative"})
    low = _number("amd.delay_min", amd["delay_min"])
    return AmdSettings(
        delay_min=low,
        delay_max=_number("amd.delay_max", amd["delay_max"], low=low),
        false_positive=_number("amd.false_positive", amd["false_positive"], high=0.99),
        false_negative=_number("amd.false_negative", amd["false_negative"], high=1.0),
    )


def _check_probabilities(scenario: Scenario) -> None:
    hours = {0.0}
    for steps in (scenario.p_human, scenario.p_machine, scenario.p_busy_invalid):
        hours.update(h for h, _ in steps.points)
    for hour in hours:
        t = hour * 3600
        total = scenario.p_human.at(t) + scenario.p_machine.at(t) + scenario.p_busy_invalid.at(t)
        if total > 1 + 1e-9:
            raise ScenarioError(
                "p_human", f"p_human + p_machine + p_busy_invalid = {total:.3f} > 1 at hour {hour}"
            )
