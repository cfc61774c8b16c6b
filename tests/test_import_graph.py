"""The import graph of the project's packages, read from each module's module-level imports
(those inside `if`/`try` at module level count; imports inside functions do not): no cycles,
and the reusable app never imports the reference project's accounts app."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("accounts", "risk", "fpdjango", "sandbox")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


def module_level_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules `name` imports at module level (a `from x import y` names x.y when
    that is a module, else x)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")
                    parent = parent[: len(parent) - (node.level - 1)]
                    base = ".".join([*parent, base] if base else parent)
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    targets.add(candidate if candidate in known else base)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
                visit(getattr(node, "finalbody", []))

    visit(tree.body)
    resolved = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            resolved.add(target)
    return resolved


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: module_level_imports(path, name, known) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_packages_import_each_other_without_cycles():
    assert cycles(import_graph()) == []


def test_risk_never_imports_the_reference_projects_accounts_app():
    offenders = {
        name: sorted(t for t in targets if t == "accounts" or t.startswith("accounts."))
        for name, targets in import_graph().items()
        if name == "risk" or name.startswith("risk.")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_risk_migrations_do_not_depend_on_accounts():
    for path in (ROOT / "risk" / "migrations").glob("*.py"):
        tree = ast.parse(path.read_text())
        strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
        assert "accounts" not in strings, path.name


def test_the_graph_reader_sees_a_cycle_and_an_import_of_accounts():
    """The checks above can fail: a made-up graph with a cycle is found."""
    graph = {"risk.a": {"risk.b"}, "risk.b": {"risk.c"}, "risk.c": {"risk.a"}, "risk.d": set()}
    assert cycles(graph) == [["risk.a", "risk.b", "risk.c"]]
    here = import_graph()
    assert "risk.conf" in here["risk.rules"]  # a real edge is read
