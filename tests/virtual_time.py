"""Call flows on virtual time: a switch in memory (`switch_env`, ``memory=True``) on an event loop whose clock
only moves when every task is idle (the `looptime` pytest plugin, ``@pytest.mark.looptime``).

A 32 s SIP Timer B or a 15 s ring timeout then fires at once in wall time, at its exact instant on the loop's
clock (``loop.time()``), in the same order as on a real clock.

Two things to keep in mind:

- looptime compacts the time of the test body only, not of fixtures; a switch started in a fixture would have
  armed its timers on the real clock. So the switch is started inside the test: ``async with
  memory_switch(tmp_path, monkeypatch) as env``.
- The switch's database writer is a thread. looptime holds its clock while the loop waits on
  ``loop.run_in_executor``, but not on ``asyncio.wrap_future`` (which the event store uses): the clock would
  race ahead to the next timer while a commit runs. `memory_switch` makes ``wrap_future`` wait through
  ``run_in_executor``, so the clock stands still while the database works.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from switch_env import RunningSwitch, make_settings, switch_running

__all__ = ["memory_switch"]

T = TypeVar("T")

_wrap_future = asyncio.wrap_future


def _wrap_future_holding_the_clock(
    future: concurrent.futures.Future[T] | asyncio.Future[T], *, loop: asyncio.AbstractEventLoop | None = None
) -> asyncio.Future[T]:
    if isinstance(future, asyncio.Future):
        return _wrap_future(future, loop=loop)
    running = loop or asyncio.get_running_loop()
    # looptime counts a run_in_executor future as work in progress: the clock waits for it
    return running.run_in_executor(None, future.result)


@contextlib.asynccontextmanager
async def memory_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> AsyncIterator[RunningSwitch]:
    """`switch_env.switch_running` in memory, started on the test's (virtual) clock."""
    monkeypatch.setattr(asyncio, "wrap_future", _wrap_future_holding_the_clock)
    async with switch_running(make_settings(tmp_path), memory=True, **options) as env:
        yield env
