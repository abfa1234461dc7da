"""The fields a run may create in the probe tables: one fixed, documented set (docs/readback.md, "Fields").

On Treasure Data every new top-level field name of a record becomes a column of its table, for good (a soft
limit of 512 a table), and a nested object is one column. So a record sent with the valid key holds only
the names listed here: the probe's own fields, the fields the Postback docs and [TD-OAS] name, and the
suite's value-fidelity fields. Bodies that need many or arbitrary names nest them under one of these
(``payload``), or go with a well-formed unknown key where only the answer is judged. The transport refuses
any other valid-key record as a suite bug (``conformance.transport.client.UnsafeRequest``), except on an
account the user declared disposable (``--disposable-account``).

Every name is a Treasure Data column name as it is (lowercase ASCII letters, digits and ``_``, not starting
with a digit: TD docs, "Naming requirements"), so a td read-back finds each under its own name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

TEXT_FIELDS = tuple(f"text_{n}" if n > 1 else "text" for n in range(1, 9))
NUMBER_FIELDS = tuple(f"number_{n}" if n > 1 else "number" for n in range(1, 6))
FLAG_FIELDS = ("flag", "flag_2")
DECIMAL_FIELDS = tuple(f"decimal_{n}" if n > 1 else "decimal" for n in range(1, 5))
# name -> what it is for (the docs' table is generated from this mapping).
PROBE_FIELDS: dict[str, str] = {
    "conformance_id": "the probe's ID: the run ID and a counter (every probe record)",
    "time": "the record's time: stamped by the target (BODY-02), or sent by BODY-09's probes",
    "conformance_canary": "the preflight's canary record",
    "conformance_barrier": "the read-back barrier record sent after the last 'never ingested' probe",
    # [L] "Example" and [V2] "Sample Request"
    "param1": "the legacy doc's example field",
    "param2": "the legacy doc's example field (an integer)",
    "email": "the v2 sample request's field",
    "telephone": "the v2 sample request's field",
    # [TD-OAS] "Suggested Parameters"
    "td_record_time": "BODY-09: the record's time, inside and outside the documented window",
    "td_global_id": "[TD-OAS] suggested parameter",
    "td_ua": "[TD-OAS] suggested parameter",
    "page": "[TD-OAS] suggested-parameters example",
    # The suite's value-fidelity fields (BODY-01, BODY-06, BODY-08, BODY-09, SIZE). Each holds values of one
    # JSON type only, so that on Treasure Data each column keeps the type its first record gave it.
    **{name: "a string value (BODY-01, BODY-06, BODY-03's invalid text)" for name in TEXT_FIELDS},
    **{name: "an integer value (BODY-01; RFC 8259 section 6 ranges)" for name in NUMBER_FIELDS},
    **{name: "a boolean value (BODY-01)" for name in FLAG_FIELDS},
    **{name: "a float value (BODY-01's SHOULD part)" for name in DECIMAL_FIELDS},
    "nothing": "a null value (BODY-01's SHOULD part)",
    "nested": "a nested object: one column (BODY-01's SHOULD part)",
    "list": "an array: one column (BODY-01's SHOULD part)",
    "payload": "any JSON value, many or arbitrary member names nested in it: one column (BODY-08)",
    "dup": "BODY-09: a name sent twice in one object",
    "pad": "SIZE: a string padding a record to an exact byte size",
}
FIELD_NAMES: frozenset[str] = frozenset(PROBE_FIELDS)


def outside(names: Iterable[str]) -> list[str]:
    """The names that are not in the documented set, in their order."""
    return [name for name in names if name not in FIELD_NAMES]


_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[{}\[\],]|[^\s"{}\[\],]+')


def top_level_names(body: bytes) -> list[str]:
    """The member names at the top level of a body that starts as a JSON object, in their order.

    Scanned without a JSON parser, so that a body no parser reads (too deep, numbers of thousands of digits,
    invalid JSON) still shows the names a lenient target would make columns of; a name whose escapes do not
    decode is left out. Not an object: no names."""
    text = body.decode("utf-8", "replace")
    try:  # most bodies are JSON objects the stdlib reads: their names at once (a repeated name once)
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    if isinstance(value, dict):
        return list(value)
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if not text.startswith("{", start):
        return []
    names: list[str] = []
    depth, expect_name = 0, False
    for match in _TOKEN.finditer(text, start):
        token = match.group()
        if token[0] == '"':
            if depth == 1 and expect_name:
                expect_name = False
                try:
                    name = json.loads(token)
                except ValueError:
                    continue
                names.append(name)
        elif token in "{[":
            depth += 1
            expect_name = depth == 1
        elif token in "}]":
            depth -= 1
            if depth <= 0:
                break
        elif depth == 1:  # a comma between top-level members, or anything else where a name may stand
            expect_name = token == ","
    return names


def undocumented_fields(body: bytes) -> list[str]:
    """The top-level names of a body (scanned as :func:`top_level_names`) outside the documented set."""
    return list(dict.fromkeys(outside(top_level_names(body))))
