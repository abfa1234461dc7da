"""How a read-back backend returns what was sent: the per-backend value mapping of BODY-01 and BODY-02.

BODY-01 compares every field sent with the field read back. What "the same value" means depends on the
read-back backend, so the comparison goes through a mapping:

- **protocol v1** (docs/contract.md, "Read-back"): the identity. The record comes back as the JSON object
stored.
- **td** (Treasure Data's own query API): a record comes back as a row of the probe table, as TD stores it
  (Treasure Data docs, "Naming requirements": column names are lowercase letters, digits and ``_``, not
  starting with a digit; other names get a system alias. "Schema management": ``time`` is int64 UNIX
  seconds). The adapter drops NULL columns, so a row holds the fields that have a value. The mapping:

  ========================  =====================================================================
  sent                      read back: decided / undecided (INFO)
  ========================  =====================================================================
  field name                a valid column name is looked up as is, else lowercased when that is
                            valid and unambiguous; any other name gets an alias: undecided
  string, integer, float    the same type and value: match; the same value in another scalar type
                            (the column's type was fixed by an earlier record): undecided
  boolean                   a boolean: compared; ``"true"``/``"false"`` or 1/0 of the same truth:
                            undecided (TD has no boolean column type)
  null                      absent (NULL and absent are the same in a TD table): undecided
  object, array             JSON text, or an array/map: compared after parsing
  ``time`` (BODY-02)        int64 UNIX seconds: the identity
  ========================  =====================================================================

A comparison the mapping cannot decide returns :class:`Undecided` (a ``str``): the read-back check reports it
as INFO, never as a failure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

TD_COLUMN = re.compile(r"[a-z_][a-z0-9_]{0,127}")
SHOWN = 60


class Undecided(str):
    """Why a backend's mapping cannot decide whether a value came back as sent (reported INFO)."""

    __slots__ = ()


FieldsComparer = Callable[[Mapping[str, object], Mapping[str, Any]], str | None]


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=True, default=repr)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def json_kind(value: object) -> str:
    """The JSON type of a decoded value (null, boolean, number, string, array, object)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def td_compare_value(sent: object, got: object) -> str | None:
    """None: ``got`` is ``sent`` as TD stores it; a problem text; or :class:`Undecided`."""
    mismatch = f"sent {_show(sent)} ({json_kind(sent)}), read back {_show(got)} ({json_kind(got)})"
    if sent is None:
        return None if got is None else mismatch
    if isinstance(sent, bool):
        if isinstance(got, bool):
            return None if got is sent else mismatch
        if got in ("true", "false", 0, 1) and not isinstance(got, float):
            same = got in (("true", 1) if sent else ("false", 0))
            return Undecided(f"boolean {_show(sent)} came back as {_show(got)}") if same else mismatch
        return mismatch
    if isinstance(sent, int | float):
        if isinstance(got, int | float) and not isinstance(got, bool):
            if got == sent and (isinstance(got, float) == isinstance(sent, float) or got != int(got)):
                return None
            return Undecided(f"{_show(sent)} came back as {_show(got)}") if got == sent else mismatch
        if isinstance(got, str) and got.strip() == json.dumps(sent):
            return Undecided(f"{_show(sent)} came back as the string {_show(got)} (a string column)")
        return mismatch
    if isinstance(sent, str):
        if isinstance(got, str):
            return None if got == sent else mismatch
        if isinstance(got, int | float) and not isinstance(got, bool) and sent.strip() == json.dumps(got):
            return Undecided(f"the string {_show(sent)} came back as the number {_show(got)}")
        return mismatch
    if isinstance(sent, list | dict):
        if isinstance(got, str):  # nested values stored as JSON text
            try:
                got = json.loads(got)
            except ValueError:
                return mismatch
        if isinstance(sent, list) and isinstance(got, list | tuple):
            if len(got) != len(sent):
                return mismatch
            return _worst(td_compare_value(a, b) for a, b in zip(sent, got, strict=True))
        if isinstance(sent, dict) and isinstance(got, dict):
            if set(sent) != set(got):
                return mismatch
            return _worst(td_compare_value(sent[k], got[k]) for k in sent)
        return mismatch
    return mismatch


def _worst(problems: Iterator[str | None] | Any) -> str | None:
    undecided: str | None = None
    for problem in problems:
        if problem is not None and not isinstance(problem, Undecided):
            return problem
        undecided = undecided or problem
    return undecided


def td_column(name: str, sent: Mapping[str, object]) -> str | None:
    """The column a sent field name lands in, None when TD gives it an alias (or it is ambiguous)."""
    if TD_COLUMN.fullmatch(name):
        return name
    lower = name.lower()
    if TD_COLUMN.fullmatch(lower) and sum(1 for k in sent if k.lower() == lower) == 1 and lower not in sent:
        return lower
    return None


def td_compare_fields(sent: Mapping[str, object], record: Mapping[str, Any]) -> str | None:
    """BODY-01 under the td mapping: None (all decided and held), the first problems, or Undecided."""
    problems: list[str] = []
    undecided: list[str] = []
    for key, value in sent.items():
        column = td_column(key, sent)
        if column is None:
            undecided.append(f"field {_show(key)} is not a TD column name (TD gives it an alias)")
        elif column not in record:
            if value is None:
                undecided.append(f"field {_show(key)}: null (NULL and absent are the same in TD)")
            else:
                problems.append(f"field {_show(key)} is missing (sent {_show(value)})")
        elif (problem := td_compare_value(value, record[column])) is not None:
            found_in = undecided if isinstance(problem, Undecided) else problems
            found_in.append(f"field {_show(key)}: {problem}")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return "; ".join(problems[:3]) + more
    if undecided:
        more = f" (and {len(undecided) - 2} more)" if len(undecided) > 2 else ""
        return Undecided("td read-back cannot decide: " + "; ".join(undecided[:2]) + more)
    return None
