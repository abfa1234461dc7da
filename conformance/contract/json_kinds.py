"""The suite's strict RFC 8259 reading of a raw body: its contract-model kind, and why.

Python's json module with hooks (numbers, constants), a token-by-token reader for nesting deeper than that
module follows, and the cases RFC 8259 leaves to implementations marked STRESS (a valid object a target may
accept or refuse). tests/test_bodies.py checks it against a second parser (orjson), which the reference uses.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from conformance.contract.model import Body

# Nesting deeper than this makes a valid object a "stress" body a target may refuse (RFC 8259 section 9).
STRESS_DEPTH = 100
# Integers longer than this are "stress" too (RFC 8259 section 6 lets implementations limit the range).
STRESS_DIGITS = 4000
# RFC 8259 section 9: "An implementation may set limits on the range and precision of numbers." Integers a
# 64-bit integer (signed or unsigned) holds are ones parsers keep; outside that range a target may refuse.
INT_RANGE = (-(2**63), 2**64 - 1)
# A string that still holds a surrogate code point after parsing came from a lone escape such as "\ud800".
_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # RFC 8259 section 6


def _depth(value: object) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = list(item.values()) if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _has_lone_surrogate(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def classify(body: bytes) -> Body:
    """The contract-model kind of a raw body: the suite's own strict RFC 8259 reading of it.

    A valid object is a STRESS body (one a target may accept or refuse) when it holds a number outside
    what a 64-bit integer or a finite double holds, a non-zero number that underflows to 0, a lone surrogate
    escape (section 8.2: valid grammar, not Unicode), or nesting deeper than STRESS_DEPTH (sections 6, 9).
    Nesting deeper than Python's parser follows is read by :func:`_deep_kind` instead.
    """
    return explain(body)[0]


def explain(body: bytes) -> tuple[Body, str]:
    """:func:`classify`'s kind of ``body`` and why (for a STRESS body: what a target may refuse it for)."""
    if not body:
        return Body.EMPTY, "an empty body"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Body.INVALID_UTF8, "not UTF-8 (RFC 8259 section 8.1)"
    if text.startswith("\ufeff"):
        # RFC 8259 section 8.1: a parser MAY ignore a leading byte order mark, so an object after one is
        # an object a target may accept or refuse; anything else stays what it is.
        rest, why = explain(body[3:])
        if rest is Body.OBJECT:
            return Body.STRESS, "a byte order mark before an object (RFC 8259 section 8.1: MAY be ignored)"
        return (Body.INVALID_JSON, "a byte order mark alone") if rest is Body.EMPTY else (rest, why)
    stressed: list[str] = []

    def parse_int(digits: str) -> int:
        if len(digits.lstrip("-")) > STRESS_DIGITS or not INT_RANGE[0] <= int(digits) <= INT_RANGE[1]:
            stressed.append(f"the integer {digits[:20]}... is beyond 64 bits (RFC 8259 section 9)")
            return 0
        return int(digits)

    def parse_float(number: str) -> float:
        value = float(number)
        mantissa = number.lower().split("e", 1)[0]
        if not math.isfinite(value) or (value == 0 and mantissa.strip("-0.")):
            stressed.append(f"the number {number[:20]} is beyond a double (RFC 8259 section 9)")
            return 0.0
        return value

    try:
        value = json.loads(
            text, parse_int=parse_int, parse_float=parse_float, parse_constant=_reject_constant
        )
    except RecursionError:
        kind = _deep_kind(text)
        deep = "nesting deeper than Python's parser follows (RFC 8259 section 9)"
        return kind, deep if kind is Body.STRESS else "not one JSON text (read token by token)"
    except ValueError as error:
        return Body.INVALID_JSON, f"not one JSON text: {error}"
    if not isinstance(value, dict):
        return Body.NON_OBJECT, "valid JSON that is not an object"
    if stressed:
        return Body.STRESS, stressed[0]
    if _has_lone_surrogate(value):
        return Body.STRESS, "a lone surrogate escape: valid grammar, not Unicode (RFC 8259 section 8.2)"
    if (depth := _depth(value)) > STRESS_DEPTH:
        return Body.STRESS, f"nesting {depth} deep, over {STRESS_DEPTH} (RFC 8259 section 9)"
    return Body.OBJECT, "a JSON object"


# RFC 8259 sections 2-7, one token at a time (for nesting too deep for Python's recursive parser).
_TOKEN = re.compile(
    r"[ \t\n\r]*(?:(?P<punct>[\[\]{},:])"
    r'|(?P<string>"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*")'
    r"|(?P<scalar>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null))"
)
_CLOSE = {"[": "]", "{": "}"}


def _deep_kind(text: str) -> Body:
    """INVALID_JSON, NON_OBJECT or STRESS (a valid object nested deeper than STRESS_DEPTH) for ``text``,
    checked token by token with an explicit stack instead of recursion."""
    stack: list[str] = []
    state, pos, top = "value", 0, ""
    while (match := _TOKEN.match(text, pos)) is not None:
        pos = match.end()
        punct, string = match.group("punct"), match.group("string")
        is_value = match.group("scalar") is not None or string is not None
        if state in ("value", "value-or-close") and punct in ("[", "{"):
            top = top or punct
            stack.append(punct)
            state = "value-or-close" if punct == "[" else "key-or-close"
        elif state in ("value", "value-or-close") and is_value:
            top = top or "scalar"
            state = "after"
        elif state in ("key", "key-or-close") and string is not None:
            state = "colon"
        elif state == "colon" and punct == ":":
            state = "value"
        elif state == "after" and stack and punct == ",":
            state = "value" if stack[-1] == "[" else "key"
        elif state in ("after", "value-or-close", "key-or-close") and stack and punct == _CLOSE[stack[-1]]:
            stack.pop()
            state = "after"
        else:
            return Body.INVALID_JSON
        if state == "after" and not stack:
            break
    if state != "after" or stack or text[pos:].strip(" \t\n\r"):
        return Body.INVALID_JSON
    return Body.STRESS if top == "{" else Body.NON_OBJECT
