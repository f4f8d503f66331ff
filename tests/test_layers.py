"""The house: harness/ is the pipeline's layers, lowest first, and a module imports only the
layers before its own (or its own layer): no import cycle, no import upward, no harness import
placed inside a function, and no module over ~350 lines (CONTRIBUTING, "How the code flows")."""

from __future__ import annotations

import ast
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[1] / "harness"
LAYERS = ("models", "data", "training", "config", "measures", "verdicts", "report", "plugin", "cli")


def modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(HARNESS.rglob("*.py")):
        name = ".".join(path.relative_to(HARNESS.parent).with_suffix("").parts).removesuffix(".__init__")
        found[name] = ast.parse(path.read_text())
    return found


def imports(name: str, tree: ast.Module) -> list[tuple[str, bool]]:
    """(imported harness module, placed inside a function) of every import of ``tree``."""
    package = name if (HARNESS.parent / name.replace(".", "/")).is_dir() else name.rsplit(".", 1)[0]
    out: list[tuple[str, bool]] = []

    def visit(node, inside):
        for child in ast.iter_child_nodes(node):
            deeper = inside or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parent = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                if base.startswith("harness"):
                    out.extend((f"{base}.{a.name}", deeper) for a in child.names)
            elif isinstance(child, ast.Import):
                out.extend((a.name, deeper) for a in child.names if a.name.startswith("harness"))
            visit(child, deeper)

    visit(tree, False)
    return out


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def graph() -> dict[str, set[str]]:
    found = modules()
    edges = {}
    for name, tree in found.items():
        targets = set()
        for target, _ in imports(name, tree):
            while target not in found and "." in target:  # an imported name: its module
                target = target.rsplit(".", 1)[0]
            if target in found and target != name:
                targets.add(target)
        edges[name] = targets
    return edges


def test_no_module_imports_a_later_layer():
    upward = [
        (a, b)
        for a, targets in graph().items()
        for b in targets
        if layer(a) is not None and layer(b) is not None and layer(b) > layer(a)
    ]
    assert upward == []


def test_the_import_graph_has_no_cycle():
    edges, state, cycles = graph(), {}, []

    def walk(node, path):
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            walk(node, [node])
    assert cycles == []


def test_no_harness_import_is_placed_in_a_function_and_no_module_is_long():
    inside = [(name, target) for name, tree in modules().items() for target, deep in imports(name, tree) if deep]
    assert inside == []
    long = [p.name for p in HARNESS.rglob("*.py") if len(p.read_text().splitlines()) > 350]
    assert long == []
