"""Shared fixtures: a per-session data cache so tests never touch the user's cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    import os

    os.environ["HARNESS_CACHE"] = str(tmp_path_factory.mktemp("harness-cache"))
    import torch

    torch.set_num_threads(1)  # small models: one thread is fastest and fully deterministic
