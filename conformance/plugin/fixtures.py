"""What the suite's fixtures hand to tests: the engine's context (conformance/engine/context.py).

Test modules import these for their type hints; a conftest file is for pytest to load, not to import.
"""

from __future__ import annotations

from conformance.engine.context import Info, Ingestion, skip, undecidable
from conformance.engine.run import Run
from conformance.plugin.verdicts import marked_clauses

__all__ = ["Info", "Ingestion", "Run", "marked_clauses", "skip", "undecidable"]
