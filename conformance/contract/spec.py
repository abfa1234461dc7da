"""The project's OpenAPI 3.1 document and its per-version views.

``specs/openapi.yaml`` describes both endpoint versions at once. Objects that hold for one version only carry
``x-postback-versions``; :func:`version_view` turns the document into the plain OpenAPI 3.1 document of one
version, following the steps written in the document's ``info.description``:

1. drop every mapping whose ``x-postback-versions`` does not name the version (from lists and from mappings);
2. delete the remaining ``x-postback-versions`` keys;
3. replace a wrapper left holding only ``x-postback-value`` by that value;
4. drop security requirements and ``x-postback-precedence`` entries naming a scheme the view no longer has.

Everything here is pure: it reads the file beside this module and nothing else.
"""

from __future__ import annotations

import copy
import hashlib
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast, get_args

import yaml

Version = Literal["legacy", "v2"]
VERSIONS: tuple[Version, ...] = get_args(Version)

# ``openapi.yaml`` beside this module is a link to ``specs/openapi.yaml`` (a copy once installed).
SPEC_PATH: Path = Path(__file__).with_name("openapi.yaml")

VERSIONS_KEY = "x-postback-versions"
VALUE_KEY = "x-postback-value"
PRECEDENCE_KEY = "x-postback-precedence"
BODY_CAP_KEY = "x-postback-max-body-bytes"
CLAUSES_KEY = "x-postback-clauses"

_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


@cache
def _parsed() -> dict[str, Any]:
    with SPEC_PATH.open("rb") as handle:
        document = yaml.safe_load(handle)
    if not isinstance(document, dict):
        raise ValueError(f"{SPEC_PATH} does not hold a mapping at its top level")
    _check_keys(document, "#")
    return cast(dict[str, Any], document)


def _check_keys(node: Any, where: str) -> None:
    """Reject what YAML can parse but OpenAPI cannot hold: non-string keys (e.g. an unquoted ``200``)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: key {key!r} is not a string (quote it in the YAML)")
            if key == VERSIONS_KEY:
                _check_versions(value, f"{where}/{key}")
            _check_keys(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _check_keys(item, f"{where}/{index}")


def _check_versions(value: Any, where: str) -> None:
    if not isinstance(value, list) or not value or any(item not in VERSIONS for item in value):
        raise ValueError(f"{where}: expected a non-empty list drawn from {list(VERSIONS)}, got {value!r}")


def load_spec() -> dict[str, Any]:
    """The whole document, both versions. The file is parsed once; each call returns a fresh deep copy."""
    return copy.deepcopy(_parsed())


def spec_sha256() -> str:
    """SHA-256 (hex) of the spec file's bytes, as recorded in every report."""
    return hashlib.sha256(SPEC_PATH.read_bytes()).hexdigest()


def _check_version(version: str) -> Version:
    if version not in VERSIONS:
        raise ValueError(f"unknown API version {version!r}; expected one of {list(VERSIONS)}")
    return version


def _excluded(node: Any, version: Version) -> bool:
    return isinstance(node, dict) and VERSIONS_KEY in node and version not in node[VERSIONS_KEY]


def _prune(node: Any, version: Version) -> Any:
    if isinstance(node, dict):
        kept = {
            key: _prune(value, version)
            for key, value in node.items()
            if key != VERSIONS_KEY and not _excluded(value, version)
        }
        if VALUE_KEY in kept:
            if len(kept) != 1:
                raise ValueError(f"a {VALUE_KEY} wrapper holds other keys too: {sorted(kept)}")
            return kept[VALUE_KEY]
        return kept
    if isinstance(node, list):
        return [_prune(item, version) for item in node if not _excluded(item, version)]
    return node


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in _HTTP_METHODS and isinstance(operation, dict):
                found.append(operation)
    return found


def _drop_unknown_schemes(document: dict[str, Any]) -> None:
    schemes = set(document.get("components", {}).get("securitySchemes", {}))
    holders: list[dict[str, Any]] = [document, *_operations(document)]
    for holder in holders:
        if "security" in holder:
            holder["security"] = [
                requirement for requirement in holder["security"] if set(requirement) <= schemes
            ]
        if PRECEDENCE_KEY in holder:
            holder[PRECEDENCE_KEY] = [name for name in holder[PRECEDENCE_KEY] if name in schemes]


def _resolve_pointer(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for raw in ref[2:].split("/") if ref != "#" else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(ref)
    return node


def _check_refs(document: dict[str, Any], node: Any) -> None:
    """Every local ``$ref`` must still resolve once a view has removed objects."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            try:
                _resolve_pointer(document, ref)
            except KeyError:
                raise ValueError(f"the view leaves {ref!r} dangling") from None
        for value in node.values():
            _check_refs(document, value)
    elif isinstance(node, list):
        for item in node:
            _check_refs(document, item)


def version_view(version: Version) -> dict[str, Any]:
    """The document of one endpoint version: a deep copy without the other version's objects.

    No ``x-postback-versions`` key remains, version-scoped values are unwrapped, and the security
    requirements and ``x-postback-precedence`` lists only name the schemes the version has. The result is a
    valid OpenAPI 3.1 document on its own.
    """
    checked = _check_version(version)
    view = cast(dict[str, Any], _prune(_parsed(), checked))
    _drop_unknown_schemes(view)
    _check_refs(view, view)
    return view


class _ViewDumper(yaml.SafeDumper):
    """Safe YAML output that writes multi-line text (the descriptions) as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_ViewDumper.add_representer(str, _represent_str)


def dump_view(version: Version, path: Path) -> None:
    """Write :func:`version_view` of ``version`` to ``path`` as YAML (UTF-8, key order kept)."""
    text = yaml.dump(
        version_view(version), Dumper=_ViewDumper, sort_keys=False, allow_unicode=True, width=110
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def body_cap(version: Version) -> int | None:
    """The request body cap in bytes for ``version`` (``x-postback-max-body-bytes``), or None without one."""
    view = version_view(version)
    for operation in _operations(view):
        request_body = operation.get("requestBody")
        if isinstance(request_body, dict) and "$ref" in request_body:
            request_body = _resolve_pointer(view, request_body["$ref"])
        if not isinstance(request_body, dict):
            continue
        cap = request_body.get(BODY_CAP_KEY)
        if cap is not None:
            if isinstance(cap, bool) or not isinstance(cap, int) or cap <= 0:
                raise ValueError(f"{BODY_CAP_KEY} must be a positive integer, got {cap!r}")
            return cap
    return None


def credential_precedence(version: Version) -> list[str]:
    """The security schemes ``version`` accepts, the one that wins first (``x-postback-precedence``)."""
    for operation in _operations(version_view(version)):
        if PRECEDENCE_KEY in operation:
            return list(operation[PRECEDENCE_KEY])
    return []


def name_pattern() -> str:
    """The pattern every database and table name must match (an ECMA-262 regex, anchored ``^...$``).

    In Python match it with :func:`re.fullmatch` (see :func:`is_valid_name`): Python's ``$`` also matches
    just before a final newline, which ECMA-262's does not.
    """
    parameters = _parsed().get("components", {}).get("parameters", {}).values()
    patterns = {
        str(parameter["schema"]["pattern"])
        for parameter in parameters
        if parameter.get("in") == "path" and parameter.get("name") in ("database", "table")
    }
    if len(patterns) != 1:
        raise ValueError(f"database and table names have different patterns: {sorted(patterns)}")
    return patterns.pop()


def is_valid_name(name: str) -> bool:
    """Whether ``name`` is a valid database or table name, with ECMA-262 semantics for the anchors."""
    return re.fullmatch(name_pattern(), name) is not None
