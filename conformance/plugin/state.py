"""Where the plugin keeps the engine's run: ``config.stash``."""

from __future__ import annotations

import pytest

from conformance.engine.run import Run

run_key = pytest.StashKey[Run]()


def get_run(config: pytest.Config) -> Run:
    return config.stash[run_key]


def find_run(config: pytest.Config) -> Run | None:
    """The run, or None in a pytest run that does not collect the suite."""
    return config.stash.get(run_key, None)
