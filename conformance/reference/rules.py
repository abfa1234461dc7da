"""The Postback rules as pure functions: names, media type, TD1 credentials, strict JSON.

Each function states the rule and its source; ``app.PostbackApp`` wires them into overridable hooks.
"""

from __future__ import annotations

import json
import math
import re
from typing import NoReturn
from urllib.parse import unquote_to_bytes

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


def _reject_constant(name: str) -> NoReturn:
    # RFC 8259 §6: "Numeric values that cannot be represented ... (such as Infinity and NaN) are not
    # permitted."
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # e.g. 1e999: valid grammar, but not representable (RFC 8259 §6)
        raise ValueError("number out of range")
    return value


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

    Strict UTF-8 (§8.1), no NaN/Infinity (§6), nothing after the value (§2), no number Python cannot hold
    (over 4300 digits, or a float overflowing to infinity), nesting at most MAX_NESTING (§9). A RecursionError
    from deeper nesting than the parser can follow is turned into ValueError too.
    """
    text = body.decode("utf-8")  # UnicodeDecodeError is a ValueError
    try:
        value: object = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("nesting too deep") from None
    if nesting_depth(value) > MAX_NESTING:
        raise ValueError("nesting too deep")
    return value
