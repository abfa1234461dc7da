"""Objects the suite's fixtures hand to tests (the fixtures themselves live in ``conformance/conftest.py``).

Test modules import these for their type hints; a conftest file is for pytest to load, not to import.
"""

from __future__ import annotations

from conformance.plugin.readback_items import Ingestion
from conformance.plugin.session import Run
from conformance.plugin.verdicts import undecidable

__all__ = ["Info", "Ingestion", "undecidable"]  # undecidable: a part no test of this run can decide


class Info:
    """Records a measured value for a clause (INFO clauses report it; others show it as detail)."""

    def __init__(self, run: Run, nodeid: str) -> None:
        self.run = run
        self.nodeid = nodeid

    def record(self, clause_id: str, text: str) -> None:
        self.run.record_info(self.nodeid, clause_id, text)

    def exercised(self, *clause_ids: str) -> None:
        """Say which of the test's clauses a request of this run really exercised.

        A test that calls this (even with no ID) is judged on those alone: its other clauses come out
        ``skip`` ("no request of this run exercised it"), never ``pass``. For property tests and
        schemathesis phases, whose draws may miss a combination.
        """
        self.run.exercised.setdefault(self.nodeid, set()).update(clause_ids)


__all__ = ["Info", "Ingestion", "Run"]
