"""Writing one benchmark's section of docs/benchmarks.md, keeping the other benchmarks' sections."""

from __future__ import annotations

from pathlib import Path

__all__ = ["update_section"]


def update_section(path: Path, heading: str, section: str) -> None:
    """Replace the section that starts with ``heading`` (up to the next ``## ``) by ``section``, or append it."""
    text = (
        path.read_text()
        if path.exists()
        else "# Benchmarks\n\nFigures are ratios to a baseline run side by side.\n\n"
    )
    start = text.find(heading)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end != -1 else "")
    path.write_text(text)
