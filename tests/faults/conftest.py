"""Fault tests: each module starts its own real servers (tests/faults/helpers.py) and breaks them."""
from __future__ import annotations

import uuid

import pytest

from testing.servers import MODEL


@pytest.fixture(scope="session")
def model():
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train` (make test does it)")
    return MODEL


@pytest.fixture
def new_sender():
    """new_sender("label") → a fresh conversation id."""
    return lambda label="c": f"fault-{label}-{uuid.uuid4().hex[:10]}"
