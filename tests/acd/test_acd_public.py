"""The package's public surface: a sorted __all__ naming what exists, and the core free of I/O and clocks."""

from __future__ import annotations

import ast
from pathlib import Path

import duplex.acd

FORBIDDEN = {"asyncio", "socket", "subprocess", "sqlalchemy", "time", "datetime", "threading"}


def test_all_is_sorted_and_complete() -> None:
    names = duplex.acd.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(duplex.acd, name), name


def test_core_modules_import_no_io_clock_or_global_random() -> None:
    folder = Path(duplex.acd.__file__).parent
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                modules = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not modules & FORBIDDEN, f"{path.name} imports {modules & FORBIDDEN}"
            if isinstance(node, ast.ImportFrom) and node.module == "random":
                raise AssertionError(f"{path.name} imports from random (use an injected random.Random)")
        global_random = [
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "random"
            and node.attr != "Random"
        ]
        assert not global_random, f"{path.name} uses the global random: {global_random}"
