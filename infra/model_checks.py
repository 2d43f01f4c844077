"""What `pulumi preview` warns about in the model deployments (errors are the config's validators)."""

from __future__ import annotations

import datetime as dt

from infra.config import NAMESPACE, StackConfig
from shared.model_catalog import load_catalog

# Within this many days of a version's retirement, preview warns.
RETIREMENT_WARNING_DAYS = 60


def retirement_warnings(cfg: StackConfig, today: dt.date | None = None) -> list[str]:
    """Deployments whose version retires soon, or that will not move on by themselves (preview warns)."""
    today = today or dt.datetime.now(dt.UTC).date()
    catalog = load_catalog()
    out = []
    for index, d in enumerate(cfg.openai.deployments):
        lifecycle = catalog.version(d.model, d.version)
        key = f"{NAMESPACE}:openai.deployments.{index}"
        if lifecycle and lifecycle.retirement and (lifecycle.retirement - today).days <= RETIREMENT_WARNING_DAYS:
            out.append(f"{key}.version: {d.model} {d.version} retires on {lifecycle.retirement}; "
                       f"move to a newer version before then")
        if d.upgrade == "noAutoUpgrade":
            out.append(f"{key}.upgrade: noAutoUpgrade pins {d.model} {d.version}; at its retirement the "
                       f"deployment stops answering unless you upgrade it")
    return out
