"""A small filter language that selects leads: segmentation by list and custom fields.

    custom.interest == "solar" and priority >= 5 and status in ("new", "retry")
    list_id in (1, 2) and not (last_outcome == "busy") and custom["home owner"] != "no"
    1 <= priority <= 9 or email == None

The syntax is a Python expression subset (read with the standard `ast` module, never evaluated):
`and`, `or`, `not`, parentheses; comparisons `== != < <= > >=`, `in` / `not in` a list or tuple of
constants, chained (`1 <= priority <= 9`); string and integer constants and `None`.

Fields: `status` (a lead status), `priority`, `attempts`, `list_id` (integers, every operator);
`phone`, `first_name`, `last_name`, `email`, `company`, `timezone`, `external_id`, `last_outcome` (text);
`custom.<key>` or `custom["any key"]` (text, as imported from a file). Text compares with `==`, `!=`, `in`,
`not in` only; an empty or missing value equals "" so `!=` and `not` read as a person expects (no SQL
three-valued surprises), and `== None` / `!= None` ask whether a value is there at all.

`parse_filter` validates and returns a tree of frozen values; `to_sql` turns it into a SQLAlchemy clause on
`Lead` (SQLite and PostgreSQL alike) and `matches` evaluates it on one lead in memory - the two agree, which
the tests check. Errors are `FilterError` with the column of the offending part.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, or_
from sqlalchemy.sql.elements import ColumnElement as Col

from duplex.db.models import Lead
from duplex.dialer.types import LeadStatus

__all__ = [
    "All",
    "AnyOf",
    "Comparison",
    "FilterError",
    "Negation",
    "Node",
    "matches",
    "parse_filter",
    "to_sql",
]

MAX_LENGTH = 2000
INT_FIELDS = frozenset({"priority", "attempts", "list_id"})
TEXT_FIELDS = frozenset(
    {"phone", "first_name", "last_name", "email", "company", "timezone", "external_id", "last_outcome"}
)
ORDERING = frozenset({"<", "<=", ">", ">="})
OPERATORS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in",
}  # fmt: skip
MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


class FilterError(ValueError):
    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(f"at column {column + 1}: {message}")
        self.column = column


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    field: str  # a lead column, or the key of `custom` when `custom` is set
    op: str
    value: Any  # int | str | None | tuple[...] for in / not in
    custom: bool = False


@dataclass(frozen=True, slots=True)
class All:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    part: Node


Node = Comparison | All | AnyOf | Negation


def parse_filter(text: str) -> Node:
    """The validated filter tree of `text`; FilterError says what is wrong and where."""
    if not text.strip():
        raise FilterError("the filter is empty")
    if len(text) > MAX_LENGTH:
        raise FilterError(f"the filter is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FilterError(f"syntax error: {exc.msg}", max((exc.offset or 1) - 1, 0)) from None
    except (RecursionError, MemoryError, ValueError):  # absurd nesting, NUL characters
        raise FilterError("the filter cannot be read") from None
    return _node(tree.body)


def _node(node: ast.expr) -> Node:
    if isinstance(node, ast.BoolOp):
        parts = tuple(_node(v) for v in node.values)
        return All(parts) if isinstance(node.op, ast.And) else AnyOf(parts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return Negation(_node(node.operand))
    if isinstance(node, ast.Compare):
        terms = [node.left, *node.comparators]
        pairs = [_comparison(terms[i], op, terms[i + 1]) for i, op in enumerate(node.ops)]
        return pairs[0] if len(pairs) == 1 else All(tuple(pairs))
    raise FilterError(
        f"expected a comparison such as priority >= 5, got {ast.unparse(node)!r}", node.col_offset
    )


def _field(node: ast.expr) -> tuple[str, bool] | None:
    """(name, is_custom) when `node` names a field, else None."""
    if isinstance(node, ast.Name):
        return node.id, False
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "custom":
        return node.attr, True
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == "custom"
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ):
        return node.slice.value, True
    return None


def _constant(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and (node.value is None or type(node.value) in (int, str)):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
    ):
        if type(node.operand.value) is int:
            return -node.operand.value
    if isinstance(node, ast.Tuple | ast.List):
        values = tuple(_constant(e) for e in node.elts)
        if any(isinstance(v, tuple) or v is None for v in values):
            raise FilterError("a list holds strings or integers only", node.col_offset)
        return values
    raise FilterError(f"expected a string, an integer or None, got {ast.unparse(node)!r}", node.col_offset)


def _comparison(left: ast.expr, cmpop: ast.cmpop, right: ast.expr) -> Comparison:
    op = OPERATORS.get(type(cmpop))
    if op is None:
        raise FilterError(f"unsupported operator {type(cmpop).__name__}", left.col_offset)
    named, other = (_field(left), right) if _field(left) is not None else (_field(right), left)
    if named is None:
        raise FilterError(f"a comparison needs a field, got {ast.unparse(left)!r}", left.col_offset)
    if other is left:
        if op not in MIRRORED:
            raise FilterError(f"write the field on the left of {op!r}", left.col_offset)
        op = MIRRORED[op]
    name, custom = named
    value = _constant(other)
    _check(name, custom, op, value, other.col_offset)
    return Comparison(field=name, op=op, value=value, custom=custom)


def _check(name: str, custom: bool, op: str, value: Any, column: int) -> None:
    listed = op in ("in", "not in")
    if listed != isinstance(value, tuple):
        raise FilterError(f"{op!r} needs {'a list' if listed else 'a single value'}", column)
    if value is None and op not in ("==", "!="):
        raise FilterError("None compares with == or != only", column)
    values = value if listed else (value,)
    if not custom and name not in INT_FIELDS | TEXT_FIELDS | {"status"}:
        known = ", ".join(sorted(INT_FIELDS | TEXT_FIELDS | {"status"}))
        raise FilterError(f"unknown field {name!r} (fields: {known}, custom.<key>)", column)
    if custom or name in TEXT_FIELDS or name == "status":
        if op in ORDERING:
            raise FilterError(
                f"{'custom.' if custom else ''}{name} is text: use ==, !=, in or not in", column
            )
        if any(v is not None and not isinstance(v, str) for v in values):
            raise FilterError(f"{'custom.' + name if custom else name} compares with strings", column)
    if name == "status" and not custom:
        wrong = [v for v in values if v not in {s.value for s in LeadStatus}]
        if wrong or None in values:
            statuses = ", ".join(s.value for s in LeadStatus)
            raise FilterError(f"unknown status {wrong[0] if wrong else None!r} (one of {statuses})", column)
    if name in INT_FIELDS and not custom and any(not isinstance(v, int) for v in values):
        raise FilterError(f"{name} compares with integers", column)


# ---- SQL ----------------------------------------------------------------------------------------------------


def _column(cmp: Comparison) -> Col[Any]:
    if cmp.custom:
        column: Col[Any] = Lead.custom[cmp.field].as_string()
        return column
    attribute: Col[Any] = getattr(Lead, cmp.field).expression
    return attribute


def _sql_comparison(cmp: Comparison) -> ColumnElement[bool]:
    column = _column(cmp)
    if cmp.value is None:
        return column.is_(None) if cmp.op == "==" else column.is_not(None)
    text = cmp.custom or cmp.field in TEXT_FIELDS
    operand = func.coalesce(column, "") if text else column
    if cmp.op == "in":
        return operand.in_(cmp.value)
    if cmp.op == "not in":
        return operand.not_in(cmp.value)
    operators: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    }  # fmt: skip
    return operators[cmp.op](operand, cmp.value)


def to_sql(node: Node) -> ColumnElement[bool]:
    """A WHERE clause on `Lead` selecting what `node` selects."""
    if isinstance(node, Comparison):
        return _sql_comparison(node)
    if isinstance(node, Negation):
        return not_(to_sql(node.part))
    clauses = [to_sql(p) for p in node.parts]
    return and_(*clauses) if isinstance(node, All) else or_(*clauses)


# ---- in memory ----------------------------------------------------------------------------------------------


def _value(cmp: Comparison, lead: Any) -> Any:
    if cmp.custom:
        value = (getattr(lead, "custom", None) or {}).get(cmp.field)
        return None if value is None else str(value)
    value = getattr(lead, cmp.field)
    return str(value) if cmp.field == "status" and value is not None else value


def _matches_comparison(cmp: Comparison, lead: Any) -> bool:
    value = _value(cmp, lead)
    if cmp.value is None:
        return (value is None) == (cmp.op == "==")
    if cmp.custom or cmp.field in TEXT_FIELDS:
        value = "" if value is None else value
    if cmp.op in ("in", "not in"):
        return (value in cmp.value) == (cmp.op == "in")
    checks: dict[str, Callable[[Any, Any], bool]] = {
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    }  # fmt: skip
    return checks[cmp.op](value, cmp.value)


def matches(node: Node, lead: Any) -> bool:
    """Whether `lead` (a Lead, or any object with its attributes) is selected by `node`."""
    if isinstance(node, Comparison):
        return _matches_comparison(node, lead)
    if isinstance(node, Negation):
        return not matches(node.part, lead)
    results = (matches(p, lead) for p in node.parts)
    return all(results) if isinstance(node, All) else any(results)
