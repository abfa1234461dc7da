"""The spec-driven layer: schemathesis' phases over the per-version view of ``specs/openapi.yaml``.

:mod:`.loader` loads the view and builds the phase tests, :mod:`.wire` turns a generated case into the
request the suite sends, :mod:`.judge` decides each answer and maps every miss to its clauses, and
:mod:`.runner` ties them together for ``conformance/test_schema.py``.
"""

from __future__ import annotations

from conformance.schema.judge import Judge
from conformance.schema.loader import Generation, schema_view
from conformance.schema.runner import SchemaSession

__all__ = ["Generation", "Judge", "SchemaSession", "schema_view"]
