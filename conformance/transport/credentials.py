"""Credential placements, and turning an abstract credential (valid, unknown, ...) into a real value.

Tests and property strategies only ever hold the abstract :class:`Cred`; the key itself stays in the
:class:`Keyring`, so no falsifying example or failure message can print it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from conformance.contract.model import Authorization, Cred


class Keyring:
    """The run's keys: the valid one (secret) and stand-ins for the other kinds of credential."""

    def __init__(self, valid: str, seed: int) -> None:
        self._valid = valid
        rnd = random.Random(seed)
        # EP-05: well-formed like a TD key (account ID "/" 40 hex digits) but belonging to nobody.
        self.unknown = f"{rnd.randrange(1, 10**5)}/{rnd.getrandbits(160):040x}"
        self.malformed = "not-a-write-key"

    def __repr__(self) -> str:
        return "Keyring(<redacted>)"

    def value(self, cred: Cred) -> str:
        if cred is Cred.VALID:
            return self._valid
        if cred is Cred.UNKNOWN:
            return self.unknown
        if cred is Cred.MALFORMED:
            return self.malformed
        return ""


@dataclass(frozen=True)
class Credentials:
    """Where credentials go: the X-TD-Write-Key header (any spelling), the query, Authorization."""

    header: Cred | None = Cred.VALID
    header_name: str = "X-TD-Write-Key"
    query: Cred | None = None
    authorization: Authorization | None = None
    # Wire order only (the contract does not depend on it): Authorization before X-TD-Write-Key.
    authorization_first: bool = False
    # A second X-TD-Write-Key field line after the first (RFC 9110 section 5.3: the field is a singleton,
    # so the request is malformed and what a target does with it is only reported).
    second_header: Cred | None = None

    def shape_fields(self) -> dict[str, Any]:
        """The matching fields of a contract-model RequestShape."""
        return {
            "header_key": self.header,
            "header_name": self.header_name,
            "query_key": self.query,
            "authorization": self.authorization,
        }

    def describe(self) -> str:
        parts = []
        if self.header is not None:
            parts.append(f"{self.header_name}: <{self.header.value} key>")
        if self.second_header is not None:
            parts.append(f"{self.header_name}: <{self.second_header.value} key>")
        if self.query is not None:
            parts.append(f"?td_write_key=<{self.query.value} key>")
        if self.authorization is not None:
            auth = self.authorization
            key = f" <{auth.key.value} key>" if auth.key is not None else ""
            parts.insert(0 if self.authorization_first else len(parts), f"Authorization: {auth.scheme}{key}")
        return ", ".join(parts) or "no credential"

    def materialise(self, keys: Keyring) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The header fields and query parameters that carry these credentials."""
        headers: list[tuple[str, str]] = []
        query: list[tuple[str, str]] = []
        if self.header is not None:
            headers.append((self.header_name, keys.value(self.header)))
        if self.second_header is not None:
            headers.append((self.header_name, keys.value(self.second_header)))
        if self.authorization is not None:
            auth = self.authorization
            # A field value has no trailing white space (RFC 9110 section 5.5): "TD1 " goes out as "TD1".
            value = auth.scheme if auth.key is None else f"{auth.scheme} {keys.value(auth.key)}".rstrip()
            headers.insert(0 if self.authorization_first else len(headers), ("Authorization", value))
        if self.query is not None:
            query.append(("td_write_key", keys.value(self.query)))
        return headers, query


NO_CREDENTIALS = Credentials(header=None)
