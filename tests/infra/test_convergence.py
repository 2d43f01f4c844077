"""A first `pulumi up` that converges: what waits for what, and the deploy script's patience, tested."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from infra.components.code import DEPLOY_SCRIPT
from infra.components.ml import MAX_DELIVERY_ATTEMPTS
from shared.queues import FUNCTION_MODEL_EVENTS


def test_alert_rules_wait_for_app_insights_and_skip_query_validation(platform):
    rules = platform.of_type("monitor:ScheduledQueryRule")
    assert rules
    for rule in rules:
        assert rule.inputs["skipQueryValidation"] is True
        assert "appi" in platform.depends_on(rule.name), platform.depends_on(rule.name)


def test_the_event_subscription_waits_for_the_code_and_dead_letters_with_an_identity(platform):
    subscription = platform.one("eventgrid:SystemTopicEventSubscription")
    waits_for = platform.depends_on(subscription.name)
    assert "deploy-package" in waits_for and "role-ml-events-dead-letter" in waits_for
    inputs = subscription.inputs
    assert inputs["retryPolicy"]["maxDeliveryAttempts"] == MAX_DELIVERY_ATTEMPTS
    dead_letter = inputs["deadLetterWithResourceIdentity"]
    assert dead_letter["identity"]["type"] == "SystemAssigned"
    destination = dead_letter["deadLetterDestination"]
    assert destination["blobContainerName"] == "eventgrid-deadletter"
    assert destination["resourceId"] == next(r.id for r in platform.of_type("storage:StorageAccount")
                                             if r.name == "storage")
    assert platform.one("eventgrid:SystemTopic").inputs["identity"]["type"] == "SystemAssigned"
    assert {c.inputs["containerName"] for c in platform.of_type("storage:BlobContainer")} >= {"eventgrid-deadletter"}


def test_the_code_deploy_waits_for_its_roles_and_lists_the_function(platform):
    command = next(r for r in platform.resources if r.typ == "command:local:Command")
    environment = command.inputs["environment"]
    assert environment["WAIT_FOR_FUNCTION"] == FUNCTION_MODEL_EVENTS
    assert int(environment["DEPLOY_TIMEOUT_S"]) >= 20 * 60  # role propagation (~10 min) plus a remote build
    assert {"role-storage-blob-owner", "role-cosmos-data-contributor"} <= platform.depends_on("deploy-package")


def _fake_az(tmp_path: Path, deploy_failures: int, listing_failures: int) -> Path:
    """An ``az`` that fails the upload (403, as while roles apply) and the listing a given number of times."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text(f"""#!/bin/bash
state="{tmp_path}/$2"
count=$(cat "$state" 2>/dev/null || echo 0)
echo $((count + 1)) > "$state"
echo "az $*" >> "{tmp_path}/calls"
if [ "$2" = deployment ]; then limit={deploy_failures}; else limit={listing_failures}; fi
[ "$count" -ge "$limit" ] || {{ echo "(AuthorizationFailure) 403" >&2; exit 1; }}
""")
    az.chmod(az.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def _deploy(tmp_path: Path, bin_dir: Path, timeout_s: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "RESOURCE_GROUP": "rg", "FUNCTION_APP": "func",
           "PACKAGE": "pkg.zip", "WAIT_FOR_FUNCTION": FUNCTION_MODEL_EVENTS, "DEPLOY_TIMEOUT_S": str(timeout_s),
           "RETRY_S": "0"}
    return subprocess.run(["/bin/bash", "-c", DEPLOY_SCRIPT], env=env, capture_output=True, text=True, timeout=60)


def test_the_deploy_script_retries_through_role_propagation_then_waits_for_the_function(tmp_path):
    done = _deploy(tmp_path, _fake_az(tmp_path, deploy_failures=4, listing_failures=3), timeout_s=60)
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert sum("deployment source config-zip" in c for c in calls) == 5
    assert sum("function show" in c and FUNCTION_MODEL_EVENTS in c for c in calls) == 4
    assert "role assignments may still be applying" in done.stderr


def test_the_deploy_script_gives_up_at_its_deadline_with_a_message(tmp_path):
    done = _deploy(tmp_path, _fake_az(tmp_path, deploy_failures=10_000, listing_failures=0), timeout_s=1)
    assert done.returncode == 1
    assert "still failing" in done.stderr and "rerun pulumi up" in done.stderr
