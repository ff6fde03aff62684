"""The tests run against a live Horizon (`scripts/test` starts a local runner and sets
HORIZON_ENDPOINT and HORIZON_API_KEY; HORIZON_FIXTURES is the repo's tests/fixtures)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from horizon_client import Client

FIXTURES = Path(os.environ.get("HORIZON_FIXTURES", Path(__file__).resolve().parents[3] / "tests" / "fixtures"))


@pytest.fixture(scope="session", autouse=True)
def _live() -> None:
    if not os.environ.get("HORIZON_API_KEY"):
        pytest.exit("HORIZON_API_KEY is not set: run these tests through scripts/test", returncode=2)


@pytest.fixture
def client() -> Iterator[Client]:
    with Client() as c:
        yield c


@pytest.fixture
def tag() -> str:
    """A tag of this test's own, to find its jobs among everyone's."""
    return f"py-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def fixture() -> Path:
    return FIXTURES
