"""Shared fixtures: tiny seeded data built on each other, and the real data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

# the fixtures of the tests that install the built package in fresh environments
from .fresh_envs import budget, cache, wheel  # noqa: F401

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh seeded random generator for each test."""
    return np.random.default_rng(20210101)


@pytest.fixture
def shared_data_dir() -> Path:
    """The folder of real microscopy data beside the repository (skips when absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real microscopy data not found at {SHARED_DATA} (shared/ beside the clone)")
    return SHARED_DATA
