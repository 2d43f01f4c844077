"""The contract, fuzzed: schemathesis generates requests from the served ``/api/openapi.json`` (valid
and invalid bodies, path parameters, headers) and every answer must be no 5xx, within its time, of a
documented status, in the documented shape (every error the OpenAI ``Error``). Bounded: a fixed
number of examples per operation, derandomised (the same cases each run), about two minutes."""

from __future__ import annotations

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXAMPLES_PER_OPERATION = 100  # per operation and mode (valid, invalid)
MAX_RESPONSE_S = 10.0


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def fuzz(operation, mode: schemathesis.GenerationMode, base_url: str, key: str) -> int:
    """Run the generated cases of one operation (valid ones, or ones breaking its schema); how many were sent."""
    sent = [0]

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        sent[0] += 1
        response = case.call(base_url=base_url, headers={"authorization": f"Bearer {key}"},
                             timeout=MAX_RESPONSE_S)  # a hang fails here, as a timeout
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:  # nothing in this operation to make invalid (no body, no parameters)
        assert mode is schemathesis.GenerationMode.NEGATIVE
    return sent[0]


def test_no_5xx_no_hang_and_every_error_in_the_openai_shape(stack: Stack) -> None:
    stack.control("reset", {})
    stack.reset_breakers()
    served = httpx2.get(f"{stack.gateway_url}/api/openapi.json")
    assert served.status_code == 200 and served.json()["openapi"] == "3.1.0"
    schema = schemathesis.openapi.from_dict(served.json())
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/health":  # readiness probes the backends: covered by test_openai_sdk
            continue
        for mode in schemathesis.GenerationMode:
            sent += fuzz(operation, mode, f"{stack.gateway_url}/api", stack.key)
    print(f"{sent} cases")
    assert sent >= 2000
