"""Azure ML's events driven through the local event runtime: no function waits on a long operation.

The Event Grid function only enqueues; the queue function starts the candidate's deployment and
returns while it is still provisioning; the model-operations timer follows it and starts the canary."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from shared.config import Settings
from shared.retraining.operations import MODEL_REGISTERED, SERVING_OPERATIONS
from shared.retraining.serving import LocalServingDeployer, ServingConfig
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
EVENT = {"modelName": "llmops-candidate", "modelVersion": "41", "modelUri": "azureml:llmops-candidate:41",
         "modelTags": {"gate": "passed", "dataset_ids": "ds-events"}}


@pytest.fixture
def slow_endpoint(stack: Stack) -> Iterator[LocalServingDeployer]:
    """A local endpoint that reports "provisioning" for two checks, as Azure ML does for 20-40 minutes."""
    coordinator = stack.platform.retraining()
    previous = coordinator._deployer
    deployer = LocalServingDeployer(f"{stack.simulator_url}/v1", ServingConfig.from_settings(Settings()),
                                    provisioning_checks=2)
    coordinator._deployer = deployer
    yield deployer
    coordinator._deployer = previous


def test_a_registered_model_is_deployed_by_the_timer_not_inside_the_event_handler(stack: Stack, slow_endpoint):
    coordinator = stack.platform.retraining()
    started = time.perf_counter()
    stack.call(stack.events.publish_event(MODEL_REGISTERED, "models/llmops-candidate:41", EVENT))
    assert time.perf_counter() - started < 1.0  # Event Grid's handler answered at once
    stack.call(stack.events.idle())  # the queue function has run: the deployment is started, not finished
    operation = stack.call(coordinator.operations.get("llmops-candidate-41"))
    assert operation is not None and operation.status == "deploying"
    assert stack.call(coordinator.rollouts.get("llmops-candidate-41")) is None

    # Event Grid delivers at least once: a redelivered event starts nothing new
    stack.call(stack.events.publish_event(MODEL_REGISTERED, "models/llmops-candidate:41", EVENT))
    stack.call(stack.events.idle())
    assert stack.call(coordinator.operations.get("llmops-candidate-41")).checks == 0

    stack.call(stack.events.fire_timer("model_operations"))  # still provisioning
    assert stack.call(coordinator.operations.get("llmops-candidate-41")).status == "deploying"
    stack.call(stack.events.fire_timer("model_operations"))  # ready: the canary starts
    operation = stack.call(coordinator.operations.get("llmops-candidate-41"))
    assert operation.status == "ready" and operation.checks == 2
    rollout = stack.call(coordinator.rollouts.get("llmops-candidate-41"))
    assert rollout is not None and rollout.status == "canary" and rollout.dataset_id == "ds-events"
    assert rollout.deployment.endpoint == f"{stack.simulator_url}/v1"
    stack.call(stack.platform.store.delete(SERVING_OPERATIONS, "llmops-candidate-41", "llmops-candidate-41"))
    stack.call(stack.platform.store.delete("model_rollouts", "llmops-candidate-41", "llmops-candidate-41"))


def test_events_the_platform_does_not_act_on_enqueue_nothing(stack: Stack):
    before = stack.events.processed.get("model_work", 0)
    stack.call(stack.events.publish_event("Microsoft.MachineLearningServices.DatasetDriftDetected", "x", {}))
    stack.call(stack.events.idle())
    assert stack.events.processed.get("model_work", 0) == before


def test_a_malformed_work_message_goes_to_the_poison_queue(stack: Stack):
    stack.events.enqueue("model-events", "not json")
    stack.call(stack.events.idle())
    poisoned = stack.events.poison_messages("model-events")
    assert poisoned and "malformed model-events message" in poisoned[-1]["error"]
