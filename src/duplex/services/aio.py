"""Small asyncio helpers shared by the long-running tasks (dispatcher, trunk service, engine)."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any], retry_seconds: float = 1.0) -> None:
    """Cancel `task` and wait until it is really done.

    Python 3.11's asyncio.wait_for can swallow a cancellation that arrives as its inner wait completes; a
    task looping around wait_for then runs on, and a plain `task.cancel(); await task` waits forever.
    So the cancel is repeated until the task has finished. Its result or exception is discarded.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=retry_seconds)
    await asyncio.gather(task, return_exceptions=True)
