"""Objects the suite's fixtures hand to tests (the fixtures themselves live in ``conformance/conftest.py``).

Test modules import these for their type hints; a conftest file is for pytest to load, not to import.
"""

from __future__ import annotations

from conformance.plugin.readback_items import Ingestion
from conformance.plugin.session import Run


class Info:
    """Records a measured value for a clause (INFO clauses report it; others show it as detail)."""

    def __init__(self, run: Run, nodeid: str) -> None:
        self.run = run
        self.nodeid = nodeid

    def record(self, clause_id: str, text: str) -> None:
        self.run.record_info(self.nodeid, clause_id, text)


__all__ = ["Info", "Ingestion", "Run"]
