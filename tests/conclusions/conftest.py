"""Conclusion tests use the one forum of tests/factories.py (and its API steps: draft, vote, ...)."""

from __future__ import annotations

import pytest

from tests.factories import Forum, make_forum


@pytest.fixture
async def forum(db) -> Forum:
    return await make_forum(db)
