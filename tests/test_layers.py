"""Packages depend one way (docs/ARCHITECTURE.md, "Layers"): a walk over every module's imports.

The core (`ioc`) knows no plugin and no page; the plugins (`feeds`) see only the feed contract and the
records it produces; the pages (`panels`) never reach the write path; the composition roots
(`app.py`, `ioc/runtime.py`, `ioc/wsgi.py`, the `users`/`kiosk` CLI) are the only modules that may import all of them.
Imports under `if TYPE_CHECKING:` are annotations only and are not counted.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ioc", "feeds", "panels")
COMPOSITION_ROOTS = {"app", "ioc.runtime", "ioc.wsgi", "ioc.auth.cli"}

# What each layer may not import (a name forbids the module and everything below it).
CORE_FORBIDS = ("feeds", "panels", "app", "ioc.runtime", "ioc.wsgi")
PLUGINS_MAY_IMPORT = ("feeds", "ioc.config", "ioc.models", "ioc.transports.contract", "ioc.vn_aqi",
                      "ioc.holidays")
PAGES_FORBID = ("feeds", "app", "ioc.runtime", "ioc.wsgi", "ioc.writer", "ioc.ingest", "ioc.spool", "ioc.manual",
                "ioc.transports", "ioc.db", "ioc.embedded", "ioc.services")
# The alert engine is pure: rules and their evaluation never pull in delivery (smtplib, paho, HTTP).
PURE_ENGINE = {"ioc.alerts.rules", "ioc.alerts.engine", "ioc.alerts.conditions"}
ENGINE_FORBIDS = ("ioc.alerts.notify", "ioc.alerts.channels", "ioc.mail", "ioc.transports")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> Iterator[tuple[str, Path]]:
    yield "app", ROOT / "app.py"
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield module_name(path), path


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(module: str, path: Path, top_level_only: bool = False) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import that runs, resolving relative imports; `top_level_only`
    leaves out imports inside functions (those that cannot make an import cycle at load time)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def walk(nodes: list[ast.stmt]) -> Iterator[tuple[str, int]]:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node):
                yield from walk(node.orelse)
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name, node.lineno
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                yield target, node.lineno
                for alias in node.names:  # `from ioc import queries` imports the module ioc.queries
                    yield f"{target}.{alias.name}", node.lineno
            if top_level_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list) and children and isinstance(children[0], ast.stmt | ast.excepthandler):
                    yield from walk(children)  # type: ignore[arg-type]
                elif field == "handlers" and children:
                    for handler in children:
                        yield from walk(handler.body)

    yield from walk(ast.parse(path.read_text(encoding="utf-8"), str(path)).body)


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def crossings(module: str, path: Path) -> list[str]:
    if module in COMPOSITION_ROOTS:
        return []
    found, lines = [], set()
    for target, line in imports(module, path):
        if module.startswith("ioc"):
            bad = under(target, CORE_FORBIDS)
            if module in PURE_ENGINE:
                bad = bad or under(target, ENGINE_FORBIDS)
        elif module.startswith("feeds"):
            bad = under(target, ("ioc",)) and not under(target, PLUGINS_MAY_IMPORT)
        else:  # panels
            bad = under(target, PAGES_FORBID)
        if bad and line not in lines:
            lines.add(line)
            found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    return found


def test_imports_follow_the_layers():
    found = [c for module, path in project_modules() for c in crossings(module, path)]
    assert not found, "imports that cross the layering:\n" + "\n".join(found)


def test_no_import_cycles_in_the_core():
    """Module-level imports between project modules form no cycle (a cycle is two modules that are one)."""
    known = {module for module, _ in project_modules()}
    graph: dict[str, set[str]] = {}
    for module, path in project_modules():
        graph[module] = {t for t, _ in imports(module, path, top_level_only=True) if t in known and t != module}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]) if nxt in stack else nxt)
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    # A package's __init__ importing its own submodules is how Python packages register them, not a cycle.
    cycles = [c for c in cycles if not all(part.startswith(c.split(" -> ")[0]) for part in c.split(" -> "))]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("source, expected", [
    ("from feeds import native\n", ["feeds", "feeds.native"]),
    ("from . import _drill\n", ["panels", "panels._drill"]),
    ("if TYPE_CHECKING:\n    import feeds\n", []),
    ("def f():\n    import feeds\n", ["feeds"]),
])
def test_the_walk_sees_what_python_imports(tmp_path, source, expected):
    path = tmp_path / "page.py"
    path.write_text(source)
    assert [t for t, _ in imports("panels.page", path)] == expected


def test_tests_take_helpers_from_modules_not_from_conftest():
    """conftest.py holds fixtures; helpers live in tests/support.py and tests/waiting.py."""
    found = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for target, line in imports(module_name(path), path):
            if under(target, ("tests.conftest", "conftest")):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not found, "\n".join(found)


def test_the_alert_engine_loads_no_delivery_code():
    """Importing the rules and the engine pulls in neither smtplib nor paho (checked in a fresh interpreter)."""
    import subprocess
    import sys

    code = ("import sys, ioc.alerts.engine, ioc.alerts.rules; "
            "print(sorted(m for m in ('smtplib', 'paho', 'ioc.alerts.notify', 'ioc.mail') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
