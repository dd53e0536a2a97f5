"""The IVR core's public surface, and that it stays sans-IO."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import duplex.ivr

FORBIDDEN = {
    "asyncio",
    "socket",
    "subprocess",
    "sqlalchemy",
    "time",
    "random",
    "httpx",
    "duplex.db",
    "duplex.media",
}


def test_all_is_sorted_and_importable() -> None:
    assert duplex.ivr.__all__ == sorted(duplex.ivr.__all__, key=lambda n: (not n.isupper(), n))
    for name in duplex.ivr.__all__:
        assert hasattr(duplex.ivr, name), name


def test_every_module_all_resolves() -> None:
    for info in pkgutil.walk_packages(duplex.ivr.__path__, "duplex.ivr."):
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            assert hasattr(module, name), f"{info.name}.{name}"


def test_the_core_imports_no_io_clock_or_global_randomness() -> None:
    for path in Path(duplex.ivr.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not any(name == f or name.startswith(f + ".") for f in FORBIDDEN), (
                    f"{path.name} imports {name}"
                )
