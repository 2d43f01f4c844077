"""The Azure OpenAI simulator (dev-only): ``llmops simulator --port P`` or ``build_simulator(...)``."""

from __future__ import annotations

from llmops.simulator.app import create_app
from llmops.simulator.state import Faults, LatencyModel, Limits, SimulatorState

# gpt-5-mini is a reasoning-family deployment (llmops/simulator/families.py): it refuses max_tokens
DEFAULT_DEPLOYMENTS = ("gpt-4o-mini", "gpt-4o-mini-west", "gpt-4o", "gpt-5-mini", "text-embedding-3-small")


def build_simulator(deployments=DEFAULT_DEPLOYMENTS, *, latency: str = "realistic",
                    tokens_per_minute: int | None = None, requests_per_minute: int | None = None,
                    api_key: str | None = None, seed: int | None = None,
                    answer_tokens: tuple[int, int] = (20, 120), families: dict[str, str] | None = None):
    """A Starlette app simulating the given deployments; ``latency`` is ``realistic`` or ``zero``;
    ``families`` names the family of deployments the model catalog does not know by name."""
    state = SimulatorState(
        {name: Limits(tokens_per_minute, requests_per_minute) for name in deployments},
        LatencyModel() if latency == "realistic" else LatencyModel.zero(),
        seed=seed,
        api_key=api_key,
        answer_tokens=answer_tokens,
        families=families,
    )
    return create_app(state)


__all__ = ["DEFAULT_DEPLOYMENTS", "Faults", "LatencyModel", "Limits", "SimulatorState", "build_simulator"]
