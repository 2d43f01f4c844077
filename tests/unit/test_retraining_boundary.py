"""The retraining boundary, held as structure: the pipeline sees only the contract, the platform
reaches the runners only through the composition root."""

from __future__ import annotations

from tests.support.imports import import_graph

CONTRACT = "shared.retraining.contract"
COMPOSITION_ROOT = "shared.runtime"


def inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_contract_imports_only_itself_at_run_time() -> None:
    graph = import_graph(runtime_only=True)
    leaks = {m: sorted(t for t in targets if not inside(t, CONTRACT))
             for m, targets in graph.items() if inside(m, CONTRACT)}
    assert not {m: t for m, t in leaks.items() if t}, leaks


def test_the_pipeline_uses_nothing_of_shared_but_the_contract() -> None:
    graph = import_graph(runtime_only=True)
    pipeline = {m: targets for m, targets in graph.items()
                if inside(m, "pipelines") and not inside(m, "pipelines.runners")}
    assert pipeline, "no pipeline modules found"
    leaks = {m: sorted(t for t in targets if inside(t, "shared") and not inside(t, CONTRACT))
             for m, targets in pipeline.items()}
    assert not {m: t for m, t in leaks.items() if t}, leaks


def test_only_the_composition_root_reaches_the_runners_and_the_pipeline() -> None:
    graph = import_graph()
    reaching = sorted(m for m, targets in graph.items()
                      if (inside(m, "shared") or inside(m, "functions"))
                      and any(inside(t, "pipelines") for t in targets))
    assert reaching == [COMPOSITION_ROOT]
    assert any(inside(t, "pipelines.runners") for t in graph[COMPOSITION_ROOT])
