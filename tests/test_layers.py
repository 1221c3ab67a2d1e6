"""The layers, read from the source with `ast`: the core package depends on nothing else of jisseki;
connectors/, warehouse/ and expectations/ depend only on the core (and on themselves); no project module imports another
that imports it back, however far round; no module takes another's private name. Imports inside functions
count too: an import deferred to first use still closes a cycle, only later."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("jisseki", "connectors", "warehouse", "flows", "expectations")
CORE = "jisseki.core"


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import of a project module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.extend((alias.name, [], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names = [alias.name for alias in node.names]
            # `from a import b` imports the module a.b when there is one, else takes the name b from a.
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
            out.extend((sub, [], node.lineno) for sub in submodules)
            taken = [n for n in names if f"{base}.{n}" not in MODULES]
            if taken or not submodules:
                out.append((base, taken, node.lineno))
    return [(target, names, line) for target, names, line in out if target.split(".")[0] in PACKAGES]


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        graph[name] = {target for target, _, _ in _imports(name, path) if target in MODULES and target != name}
    return graph


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_core_imports_nothing_of_jisseki_outside_it() -> None:
    wrong = [f"{name}:{line} imports {target}" for name, path in MODULES.items() if _in(name, CORE)
             for target, _, line in _imports(name, path) if not _in(target, CORE)]
    assert wrong == []


def test_connectors_warehouse_and_expectations_import_only_the_core_and_themselves() -> None:
    wrong = [f"{name}:{line} imports {target}" for name, path in MODULES.items()
             for layer in ("connectors", "warehouse", "expectations") if _in(name, layer)
             for target, _, line in _imports(name, path) if not (_in(target, CORE) or _in(target, layer))]
    assert wrong == []


def test_no_module_takes_a_private_name_of_another() -> None:
    wrong = [f"{name}:{line} takes {target}.{taken}" for name, path in MODULES.items()
             for target, names, line in _imports(name, path) if target != name
             for taken in names if taken.startswith("_") and not taken.startswith("__")]
    assert wrong == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted: an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_and_only_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"b"}}) == []


def test_no_import_cycle_among_the_project_modules() -> None:
    assert cycles(_graph()) == []


def test_the_import_reader_sees_the_imports() -> None:
    # The reader itself, on a module whose imports are known: a reader that saw nothing would pass every test.
    found = {target for target, _, _ in _imports("jisseki.core.normalize", MODULES["jisseki.core.normalize"])}
    assert "jisseki.core.periods" in found
