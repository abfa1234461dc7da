"""Read-back (docs/contract.md, protocol v1, or Treasure Data's own API): what did the target ingest?

``base``: records, expectations and the backends' protocol; ``protocol``: protocol v1 and the choice of a
backend; ``td``: Treasure Data's query API; ``ledger``: the run's expectations and its one wait;
``cleanup``: deleting one run's probe records from Treasure Data.
"""

from __future__ import annotations

from conformance.readback.base import Barriers, Check, Expected, ReadbackError, Record, RecordSource
from conformance.readback.ledger import MIN_MARGIN, WINDOW_SLACK, Ledger
from conformance.readback.protocol import ReadbackClient, open_readback

__all__ = [
    "MIN_MARGIN",
    "WINDOW_SLACK",
    "Barriers",
    "Check",
    "Expected",
    "Ledger",
    "ReadbackClient",
    "ReadbackError",
    "Record",
    "RecordSource",
    "open_readback",
]
