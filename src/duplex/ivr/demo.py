"""The demo center's main menu on 1000: English with a language choice, opening hours, sales, support with a
post-call survey, a callback request, and voicemail when closed or busy."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["DEMO_QUEUES", "demo_flow"]

DEMO_QUEUES = frozenset({"sales", "support-l1"})  # the queues the flow names; `duplex demo seed` creates them


def demo_flow() -> dict[str, Any]:
    """A fresh copy of the demo flow definition (callers may change it)."""
    text = resources.files("duplex.ivr").joinpath("demo_flow.json").read_text(encoding="utf-8")
    flow: dict[str, Any] = json.loads(text)
    return flow
