"""The Postback rules as pure functions: names, media type, TD1 credentials, strict JSON (orjson).

Each function states the rule and its source; ``app.PostbackApp`` wires them into overridable hooks.
"""

from __future__ import annotations

import re
from itertools import accumulate
from urllib.parse import unquote_to_bytes

import orjson

# Postback docs (legacy and v2), "Parameters": "only alphabets/numbers or _ are allowed" in {database} and
# {table}. Explicit ASCII class + fullmatch: `$` would let a trailing newline through, str.isalnum() would let
# non-ASCII letters and digits (é, ٣, ５) through, and IGNORECASE would let the Kelvin sign U+212A match "k".
_NAME = re.compile(r"[A-Za-z0-9_]+", re.ASCII)

# RFC 9110 §11.4 (credentials = auth-scheme [ 1*SP token68 ]), §11.1 (the scheme is case-insensitive);
# the v2 quickstart, "Authentication": `Authorization: TD1 <APIKEY>`.
_TD1 = re.compile(r"TD1 +(.+)", re.ASCII | re.IGNORECASE | re.DOTALL)

# RFC 8259 §9: "An implementation may set limits on the maximum depth of nesting." Kept well under Python's
# recursion limit so that encoding and decoding a stored record can never hit it.
MAX_NESTING = 512


def decode_segment(segment: bytes) -> str | None:
    """A path segment percent-decoded (RFC 3986 §2.1) then decoded as UTF-8; None if not valid UTF-8."""
    try:
        return unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError:
        return None


def is_valid_name(name: str) -> bool:
    """True for a non-empty name made only of ASCII letters, digits and ``_`` (any length)."""
    return _NAME.fullmatch(name) is not None


def is_json_media_type(content_type: str | None) -> bool:
    """True for media type ``application/json``, any case, with or without parameters (RFC 9110 §8.3.1)."""
    if content_type is None:
        return False
    media_type = content_type.split(";", 1)[0].strip()
    return media_type.lower() == "application/json"


def td1_key(authorization: str) -> str | None:
    """The key of an ``Authorization: TD1 <key>`` credential; None when the header is not one."""
    match = _TD1.fullmatch(authorization)
    return match.group(1) if match else None


# A JSON string (RFC 8259 section 7), unrolled so that a long string is skipped at C speed; an unterminated
# one is left in place (its brackets then count, and the body is invalid anyway).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Opening brackets step the depth up, closing ones down; every other byte is dropped before counting.
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def raw_nesting_depth(body: bytes) -> int:
    """The deepest nesting of arrays/objects in ``body``, counted on the bytes before any parsing (brackets
    inside strings do not count), so that no parser ever recurses into a body nested too deep."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS).translate(_STEPS)
    return max(accumulate(step - 1 for step in brackets), default=0)


def nesting_depth(value: object) -> int:
    """The depth of nested arrays/objects in ``value`` (0 for a scalar), computed without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: list[object]
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def parse_strict_json(body: bytes) -> object:
    """Parse ``body`` as one JSON text (RFC 8259), or raise ValueError.

    Judged by orjson, a parser the suite's oracle does not use (stdlib json there), so one misreading of
    RFC 8259 cannot hide in both: strict UTF-8 (section 8.1), no NaN/Infinity and no number overflowing a
    double (section 6), nothing after the value (section 2), no lone surrogate escape (section 8.2: the
    suite allows refusing it), no byte order mark (section 8.1: "MAY ignore"), duplicate names: the last
    wins (section 4). Nesting deeper than MAX_NESTING is refused before parsing (section 9).
    """
    if raw_nesting_depth(body) > MAX_NESTING:
        raise ValueError("nesting too deep")
    try:
        value: object = orjson.loads(body)
    except (orjson.JSONDecodeError, RecursionError):
        raise ValueError("not one valid JSON text") from None
    if nesting_depth(value) > MAX_NESTING:  # the prescan and the parser disagree: refuse, never crash
        raise ValueError("nesting too deep")
    return value
