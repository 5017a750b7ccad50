"""Test-wide fixtures. The stack: ``KAFKA_BOOTSTRAP_SERVERS`` + ``MONGODB_URI`` set → those;
else a Docker engine answers → testcontainers Kafka and MongoDB; else the embedded servers."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))   # tests/support.py


def pytest_configure(config) -> None:
    """Every tier signs and verifies with one session's development keys (as `make run` makes them)."""
    import os

    from support import test_keys
    os.environ["YIDI_KEYS_DIR"] = str(test_keys())


@pytest.fixture(scope="session")
def stack():
    from support import pick_stack
    with pick_stack() as chosen:
        yield chosen
