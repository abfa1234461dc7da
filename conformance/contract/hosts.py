"""Which endpoint version a Treasure Data host serves (docs/contract.md, Options: `--api-version`).

``<region>.records.in.treasuredata.com`` is v2; ``in.treasuredata.com`` and ``<region>.in.treasuredata.com``
are legacy. Any other host says nothing: the caller asks the user (``--api-version``, ``VERSION=URL``).
"""

from __future__ import annotations

V2_SUFFIX = ".records.in.treasuredata.com"
LEGACY_HOST = "in.treasuredata.com"


def version_of_host(host: str) -> str | None:
    """The version ``host`` serves (case-insensitive), or None for a host that is not Treasure Data's."""
    host = host.lower().rstrip(".")
    if host.endswith(V2_SUFFIX):
        return "v2"
    if host == LEGACY_HOST or host.endswith("." + LEGACY_HOST):
        return "legacy"
    return None
