"""Branch conditions: on variables (caller ID, called number and tracking source are variables too), time of
day and weekday in the flow's time zone. All conditions of a rule must hold."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from duplex.ivr.calendar import WEEKDAYS, within
from duplex.ivr.flow import Scalar

__all__ = ["condition_holds", "rule_holds"]


def rule_holds(
    conditions: Sequence[Mapping[str, Any]], variables: Mapping[str, Scalar], local: dt.datetime
) -> bool:
    return all(condition_holds(c, variables, local) for c in conditions)


def condition_holds(
    condition: Mapping[str, Any], variables: Mapping[str, Scalar], local: dt.datetime
) -> bool:
    if "var" in condition:
        return _compare(condition["op"], variables.get(condition["var"]), condition.get("value"))
    if "weekdays" in condition:
        return WEEKDAYS[local.weekday()] in condition["weekdays"]
    return within(local, condition["time_from"], condition["time_to"])


def _same(left: Scalar, right: object) -> bool:
    # Digits arrive as strings while flows often write numbers: "2" and 2 are the same answer.
    return left == right or (left is not None and right is not None and str(left) == str(right))


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _compare(op: str, left: Scalar, right: Any) -> bool:
    if op == "exists":
        return left is not None
    if op == "missing":
        return left is None
    if op == "eq":
        return _same(left, right)
    if op == "ne":
        return not _same(left, right)
    if op in ("in", "not_in"):
        found = any(_same(left, item) for item in right)
        return found if op == "in" else not found
    if left is None:
        return False
    if op == "prefix":
        return str(left).startswith(str(right))
    if op == "matches":
        return re.fullmatch(str(right), str(left)) is not None
    number, limit = _number(left), _number(right)
    if number is None or limit is None:
        return False
    return {"lt": number < limit, "le": number <= limit, "gt": number > limit, "ge": number >= limit}[op]
