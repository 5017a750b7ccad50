"""Test-wide fixtures. The stack: ``KAFKA_BOOTSTRAP_SERVERS`` + ``MONGODB_URI`` set → those;
else a Docker engine answers → testcontainers Kafka and MongoDB; else the embedded servers."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))   # tests/support.py


@pytest.fixture(scope="session")
def stack():
    from support import pick_stack
    with pick_stack() as chosen:
        yield chosen
