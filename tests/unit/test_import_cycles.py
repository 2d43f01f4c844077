"""No import cycle anywhere in the house: shared/, functions/, pipelines/ and the entry point.

Every import counts, wherever it stands (module top, inside a function, under ``TYPE_CHECKING``): a
cycle that only a lazy import keeps from failing today is still two modules that cannot be understood,
tested or moved apart. Edges go from a file to the file it names (``from a.b import c`` names ``a/b/c.py``
when that is a module, else ``a/b``); importing a submodule does not count as importing its package.
"""

from __future__ import annotations

from tests.support.imports import import_graph, imported


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
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
            visit(node)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    found = cycles(graph)
    detail = ["  " + " <-> ".join(component) + ": " + "; ".join(
        f"{a} imports {', '.join(sorted(graph[a] & set(component)))}" for a in component) for component in found]
    assert not found, "import cycles:\n" + "\n".join(detail)


def test_the_checker_sees_a_cycle_through_a_lazy_import(tmp_path) -> None:
    first, second = tmp_path / "first.py", tmp_path / "second.py"
    first.write_text("from pkg import second\n")
    second.write_text("def late():\n    from pkg.first import thing\n")
    modules = {"pkg.first": first, "pkg.second": second}
    graph = {name: imported(name, path, modules) for name, path in modules.items()}
    assert graph == {"pkg.first": {"pkg.second"}, "pkg.second": {"pkg.first"}}
    assert cycles(graph) == [["pkg.first", "pkg.second"]]
