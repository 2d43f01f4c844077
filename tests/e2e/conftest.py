from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="package")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_faults(stack: Stack) -> Iterator[None]:
    stack.control("reset", {})
    stack.reset_breakers()
    yield
    stack.control("reset", {})
    stack.reset_breakers()
