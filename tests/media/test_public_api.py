"""The package re-exports its public surface, and every module's ``__all__`` names exist."""

from __future__ import annotations

import importlib
import pkgutil

import duplex.media


def test_all_is_sorted_and_importable() -> None:
    assert duplex.media.__all__ == sorted(duplex.media.__all__, key=lambda n: (not n.isupper(), n))
    for name in duplex.media.__all__:
        assert hasattr(duplex.media, name), name


def test_every_module_all_resolves() -> None:
    for info in pkgutil.walk_packages(duplex.media.__path__, "duplex.media."):
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            assert hasattr(module, name), f"{info.name}.{name}"
