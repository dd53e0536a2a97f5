"""The layering rules of docs/architecture.md, checked on the code.

1. Cores (sans-IO packages) never load asyncio, sockets, TLS, subprocesses, the database or the web layer, nor
   the services and database adapters that drive them. Checked on what importing a core module really loads:
   each module is imported into a fresh interpreter state and ``sys.modules`` is inspected, so a leak through
   a package ``__init__`` or a dependency's dependency is caught too.
2. No import circles in ``src/``: the graph of every import statement (module level, inside functions and
   under ``TYPE_CHECKING``) has no cycle, so no lazy import can hide one.

Both checkers are also run on a synthetic package under ``tmp_path`` with a deliberate violation, so this file
shows that it fails when a rule is broken.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Packages whose every module is a sans-IO core.
CORE_PACKAGES = (
    "duplex.sip",
    "duplex.media",
    "duplex.telephony",
    "duplex.acd",
    "duplex.dialer",
    "duplex.crm",
    "duplex.ivr",
    "duplex.sim",
    "duplex.callscript",
)
# Single core modules outside those packages (the typed event catalogue among them).
CORE_MODULES = (
    "duplex.backoff",
    "duplex.events.types",
    "duplex.events.call_events",
    "duplex.events.center_events",
    "duplex.events.outbound_events",
    "duplex.events.admin_events",
)

FORBIDDEN = (
    "asyncio",
    "socket",
    "ssl",
    "subprocess",
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "duplex.api",
    "duplex.web",
    "duplex.db",
    "duplex.services",
    "duplex.stores",
    "duplex.server",
)

# Imports one module per forked child of a bare interpreter and prints what each import loaded.
_PROBE = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
baseline = set(sys.modules)
result = {}
for name in sys.argv[2:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            __import__(name)
            loaded = sorted(set(sys.modules) - baseline)
        except BaseException as exc:
            loaded = ["<import failed: %r>" % (exc,)]
        os.write(write, json.dumps(loaded).encode())
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    result[name] = json.loads(b"".join(chunks))
print(json.dumps({"baseline": sorted(baseline), "loaded": result}))
"""


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``root`` (a ``src`` folder), by dotted name."""
    base = root / package.replace(".", "/")
    modules: dict[str, Path] = {}
    for path in sorted(base.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def loaded_by_import(root: Path, modules: Iterable[str]) -> dict[str, list[str]]:
    """What importing each module loads, each in a fresh child of a bare interpreter."""
    run = subprocess.run(
        [sys.executable, "-I", "-c", _PROBE, str(root), *modules], capture_output=True, text=True, check=True
    )
    report = json.loads(run.stdout)
    leaked = [name for name in report["baseline"] if _is_forbidden(name)]
    assert not leaked, f"the bare interpreter already loads {leaked}"
    loaded: dict[str, list[str]] = report["loaded"]
    return loaded


def _is_forbidden(name: str, forbidden: Iterable[str] = FORBIDDEN) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


def core_violations(
    root: Path, modules: Iterable[str], forbidden: Iterable[str] = FORBIDDEN
) -> dict[str, list[str]]:
    """``{core module: forbidden modules its import loads}`` for the modules that break rule 1."""
    forbidden = tuple(forbidden)
    violations: dict[str, list[str]] = {}
    for module, loaded in loaded_by_import(root, modules).items():
        bad = [name for name in loaded if name.startswith("<import failed") or _is_forbidden(name, forbidden)]
        if bad:
            violations[module] = bad
    return violations


def written_imports(root: Path, module: str) -> set[str]:
    """Every module name the source of ``module`` imports, wherever the statement is (type-only ones too)."""
    path = (
        module_files(root, module.rpartition(".")[0] or module).get(module)
        or module_files(root, module)[module]
    )
    tree = ast.parse(path.read_text(), str(path))
    return {name for node in ast.walk(tree) for name in _imported(node, module, path.name == "__init__.py")}


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Edges module -> imported module of ``package``, from every import statement in the AST."""
    modules = module_files(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for target in _imported(node, name, is_package):
                # `from pkg import module` imports the module; `from module import name` the module itself
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    return [f"{base}.{alias.name}" for alias in node.names]


def import_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def core_modules() -> list[str]:
    names: list[str] = []
    for package in CORE_PACKAGES:
        names += module_files(SRC, package)
    return [*names, *CORE_MODULES]


# --- the rules on src/ ---------------------------------------------------------------------------------------


def test_cores_load_no_io_database_web_or_services() -> None:
    assert core_violations(SRC, core_modules()) == {}


def test_cores_do_not_even_name_forbidden_modules() -> None:
    """Also imports that never run (under ``TYPE_CHECKING``, in a function not yet called) keep to the rule."""
    named = {m: sorted(n for n in written_imports(SRC, m) if _is_forbidden(n)) for m in core_modules()}
    assert {module: names for module, names in named.items() if names} == {}


def test_no_import_circles_in_src() -> None:
    assert import_cycles(import_graph(SRC, "duplex")) == []


def test_every_package_is_placed() -> None:
    """A new top-level package is either a core, a service or an adapter: it must be named above or in the doc."""
    documented = (SRC.parent / "docs" / "architecture.md").read_text()
    packages = sorted(p.name for p in (SRC / "duplex").iterdir() if (p / "__init__.py").exists())
    assert [p for p in packages if f"`{p}/`" not in documented] == []


# --- the checkers catch a deliberate violation ---------------------------------------------------------------


def _write(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_checker_reports_a_core_that_loads_a_forbidden_module(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "fake/__init__.py": "",
            "fake/core/__init__.py": "",
            "fake/core/clean.py": "import json\n",
            "fake/core/leaky.py": "from fake.core import clean\nimport fake.shell.loop\n",
            "fake/shell/__init__.py": "",
            "fake/shell/loop.py": "import asyncio\n",
        },
    )
    modules = list(module_files(tmp_path, "fake.core"))
    violations = core_violations(tmp_path, modules, forbidden=("asyncio", "fake.shell"))
    assert set(violations) == {"fake.core.leaky"}
    assert {"asyncio", "fake.shell", "fake.shell.loop"} <= set(violations["fake.core.leaky"])
    assert written_imports(tmp_path, "fake.core.leaky") == {"fake.core.clean", "fake.shell.loop"}


def test_checker_reports_a_circle_hidden_in_a_function(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "fake/__init__.py": "",
            "fake/a.py": "from fake import b\n",
            "fake/b.py": "def later():\n    from fake.c import thing\n    return thing\n",
            "fake/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\nthing = 1\n",
            "fake/d.py": "import fake.a\n",
        },
    )
    graph = import_graph(tmp_path, "fake")
    assert graph["fake.b"] == {"fake.c"}
    assert import_cycles(graph) == [["fake.a", "fake.b", "fake.c"]]
