"""postback-conformance: a conformance and contract test suite for Treasure Data's Postback API."""

from __future__ import annotations

__version__ = "0.1.0"
