"""The indexed ACD decides exactly as the same core on a linear scan of every agent and call (bench/acd.py's
check, on a small center): every event of a few hundred random steps is compared."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "acd.py"


def load_bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_acd", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_acd", module)  # dataclasses look their module up there
    monkeypatch.syspath_prepend(str(BENCH.parent))
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_indexed_and_linear_scan_make_the_same_decisions(
    seed: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_bench(monkeypatch)
    args = argparse.Namespace(agents=60, skills=9, waiting=400, steps=300, seed=seed)
    for scenario in bench.scenarios(args):  # busy: freed agents search calls; quiet: calls search free agents
        timings = bench.run(args, scenario)  # exits with the first differing step otherwise
        assert len(timings["indexed"].cpu()) == len(timings["linear scan"].cpu()) > 200
        assert f"{scenario.name}: same decisions in 300 steps" in capsys.readouterr().out
