"""The engine's directory cache: a burst of INVITEs for unknown targets shares one database load."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from engine_fixtures import EngineEnv, engine_options, memory_env

from duplex.stores.call_store import Directory

__all__ = ["memory_env", "engine_options"]


async def test_concurrent_refreshes_share_one_load_and_force_reads_anew(memory_env: EngineEnv) -> None:
    engine = memory_env.engine
    loads: list[float] = []
    real = engine.store.load_directory

    async def counting(now: float) -> Directory:
        loads.append(now)
        return await real(now)

    engine.store.load_directory = counting  # type: ignore[method-assign]
    engine.directories.directory = dataclasses.replace(engine.directory, loaded_at=engine.now() - 10)  # stale
    results: list[Any] = await asyncio.gather(*(engine.refresh_directory() for _ in range(20)))
    assert len(loads) == 1
    assert all(r is results[0] for r in results) and results[0].agents  # the seeded agents
    await engine.refresh_directory()  # fresh now: served from the cache
    assert len(loads) == 1
    await engine.refresh_directory(force=True)
    assert len(loads) == 2
