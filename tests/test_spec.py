"""Checks of specs/openapi.yaml and of its loader, conformance.contract.spec.

The document must be a valid OpenAPI 3.1 description of both endpoint versions, each per-version view must be
one too, and none of the defects listed for Treasure Data's published files (anchors/README.md) may remain.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
import tomllib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from schemathesis.core.result import Ok

from conformance.contract import spec
from conformance.contract.spec import VERSIONS, Version

REPO_ROOT = Path(__file__).resolve().parent.parent
OPERATION_PATH = "/postback/v3/event/{database}/{table}"
RESPONSE_HEADER_NAMES = ("Content-Type", "Content-Length", "Date", "Strict-Transport-Security", "Connection")
CAP = 1_048_064

VERSION_PARAMS = [pytest.param(version, id=version) for version in VERSIONS]
DOCUMENT_PARAMS = [pytest.param(None, id="full"), *VERSION_PARAMS]


# Helpers -------------------------------------------------------------------------------------------------


def _document(version: Version | None) -> dict[str, Any]:
    return spec.load_spec() if version is None else spec.version_view(version)


def _operation(document: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][OPERATION_PATH]["post"]
    return operation


def _pointer_parts(ref: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in ref.removeprefix("#/").split("/")]


def _resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow local ``$ref`` links until a real object is reached."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in _pointer_parts(str(node["$ref"])):
            target = target[int(part)] if isinstance(target, list) else target[part]
        node = target
    return node


def _walk(node: Any, pointer: str = "#") -> Iterator[tuple[str, Any]]:
    """Every value of the document with its JSON pointer, the root first."""
    yield pointer, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{pointer}/{index}")


def _validator(document: dict[str, Any], pointer: str) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator for the schema at ``pointer``, with the document's refs resolvable."""
    resource = DRAFT202012.create_resource(document)
    registry: Registry[Any] = Registry().with_resource("urn:postback-spec", resource)
    return Draft202012Validator({"$ref": f"urn:postback-spec{pointer}"}, registry=registry)


def _responses(document: dict[str, Any]) -> dict[str, Any]:
    return {
        code: _resolve(document, response) for code, response in _operation(document)["responses"].items()
    }


def _schemes(document: dict[str, Any]) -> dict[str, Any]:
    schemes: dict[str, Any] = document.get("components", {}).get("securitySchemes", {})
    return schemes


def _request_body(document: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = _resolve(document, _operation(document)["requestBody"])
    return body


def _patterns() -> list[Any]:
    document = spec.load_spec()
    return [
        pytest.param(value, id=pointer)
        for pointer, value in _walk(document)
        if pointer.endswith("/pattern") and "/properties/pattern" not in pointer
    ]


# The documents are valid OpenAPI 3.1 ---------------------------------------------------------------------


def test_the_full_spec_is_a_valid_openapi_3_1_0_document() -> None:
    document = spec.load_spec()
    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_each_version_view_is_a_valid_openapi_3_1_document(version: Version) -> None:
    validate(spec.version_view(version), cls=OpenAPIV31SpecValidator)


def test_the_info_block_names_our_spec_version_and_explains_the_views() -> None:
    info = spec.load_spec()["info"]
    assert info["version"] == "1.0.0"
    assert info["title"]
    assert "x-postback-versions" in info["description"]
    assert "legacy" in info["description"]
    assert "v2" in info["description"]


@pytest.mark.parametrize("version", DOCUMENT_PARAMS)
def test_every_security_requirement_names_a_declared_scheme(version: Version | None) -> None:
    """The validator does not check this (OpenAPI 3.1, Security Requirement Object), so the suite does."""
    document = _document(version)
    schemes = set(_schemes(document))
    requirements = [*document.get("security", []), *_operation(document).get("security", [])]
    assert requirements
    for requirement in requirements:
        assert set(requirement) <= schemes


@pytest.mark.parametrize("version", DOCUMENT_PARAMS)
def test_every_local_reference_resolves(version: Version | None) -> None:
    document = _document(version)
    refs = [value["$ref"] for _, value in _walk(document) if isinstance(value, dict) and "$ref" in value]
    assert refs
    for ref in refs:
        assert _resolve(document, {"$ref": ref}) is not None


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_a_version_view_keeps_no_version_marker_or_wrapper(version: Version) -> None:
    keys = {key for _, value in _walk(spec.version_view(version)) if isinstance(value, dict) for key in value}
    assert "x-postback-versions" not in keys
    assert "x-postback-value" not in keys


def test_every_version_marker_is_a_non_empty_list_of_known_versions() -> None:
    markers = [
        value["x-postback-versions"]
        for _, value in _walk(spec.load_spec())
        if isinstance(value, dict) and "x-postback-versions" in value
    ]
    assert markers
    for marker in markers:
        assert isinstance(marker, list)
        assert marker
        assert set(marker) <= set(VERSIONS)


def test_loading_the_spec_and_its_views_raises_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec.load_spec()
        for version in VERSIONS:
            spec.version_view(version)
            schemathesis.openapi.from_dict(spec.version_view(version))


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown API version"):
        spec.version_view("v3")  # type: ignore[arg-type]


# Shape of the one operation ------------------------------------------------------------------------------


def test_the_servers_are_the_legacy_host_and_the_regional_v2_host() -> None:
    servers = {server["url"]: server for server in spec.load_spec()["servers"]}
    assert set(servers) == {"https://in.treasuredata.com", "https://{region}.records.in.treasuredata.com"}
    assert servers["https://in.treasuredata.com"]["x-postback-versions"] == ["legacy"]
    v2 = servers["https://{region}.records.in.treasuredata.com"]
    assert v2["x-postback-versions"] == ["v2"]
    assert v2["variables"]["region"]["default"] == "us01"


@pytest.mark.parametrize(
    ("version", "url"),
    [
        pytest.param("legacy", "https://in.treasuredata.com", id="legacy"),
        pytest.param("v2", "https://{region}.records.in.treasuredata.com", id="v2"),
    ],
)
def test_each_view_keeps_only_its_own_server(version: Version, url: str) -> None:
    assert [server["url"] for server in spec.version_view(version)["servers"]] == [url]


def test_there_is_one_operation_post_record_on_the_event_path() -> None:
    paths = spec.load_spec()["paths"]
    assert list(paths) == [OPERATION_PATH]
    methods = [key for key in paths[OPERATION_PATH] if key in {"get", "put", "post", "delete", "patch"}]
    assert methods == ["post"]
    assert _operation(spec.load_spec())["operationId"] == "postRecord"


def test_the_path_parameters_are_database_and_table_with_no_length_limit() -> None:
    document = spec.load_spec()
    parameters = [_resolve(document, p) for p in document["paths"][OPERATION_PATH]["parameters"]]
    assert [(p["name"], p["in"], p["required"]) for p in parameters] == [
        ("database", "path", True),
        ("table", "path", True),
    ]
    for parameter in parameters:
        assert parameter["schema"]["minLength"] == 1
        assert "maxLength" not in parameter["schema"]
        assert "length" in parameter["description"].lower()


def test_the_request_body_is_required_json() -> None:
    body = _request_body(spec.load_spec())
    assert body["required"] is True
    assert list(body["content"]) == ["application/json"]


# Per-version views ---------------------------------------------------------------------------------------


def test_the_legacy_view_has_no_td1_scheme() -> None:
    view = spec.version_view("legacy")
    assert "TD1Authorization" not in _schemes(view)
    assert {"TD1Authorization": []} not in _operation(view)["security"]


def test_the_legacy_view_has_no_413_response() -> None:
    assert "413" not in _operation(spec.version_view("legacy"))["responses"]


def test_the_legacy_view_accepts_the_query_key() -> None:
    view = spec.version_view("legacy")
    scheme = _schemes(view)["WriteKeyQuery"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "query", "td_write_key")
    assert {"WriteKeyQuery": []} in _operation(view)["security"]
    assert {"WriteKeyHeader": []} in _operation(view)["security"]


def test_the_legacy_view_has_no_body_cap() -> None:
    assert spec.body_cap("legacy") is None
    assert "x-postback-max-body-bytes" not in _request_body(spec.version_view("legacy"))


def test_the_v2_view_has_no_query_key() -> None:
    view = spec.version_view("v2")
    assert "WriteKeyQuery" not in _schemes(view)
    assert {"WriteKeyQuery": []} not in _operation(view)["security"]
    assert all(scheme["in"] != "query" for scheme in _schemes(view).values())


def test_the_v2_view_has_the_td1_scheme() -> None:
    view = spec.version_view("v2")
    scheme = _schemes(view)["TD1Authorization"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert "TD1 <key>" in scheme["description"]
    assert "case-insensitive" in scheme["description"]
    assert {"TD1Authorization": []} in _operation(view)["security"]
    assert {"WriteKeyHeader": []} in _operation(view)["security"]


def test_the_v2_view_has_the_413_response() -> None:
    assert "413" in _operation(spec.version_view("v2"))["responses"]


def test_the_v2_view_states_the_body_cap_of_1048064_bytes() -> None:
    assert spec.body_cap("v2") == CAP
    assert _request_body(spec.version_view("v2"))["x-postback-max-body-bytes"] == CAP


@pytest.mark.parametrize(
    ("version", "present"),
    [pytest.param("legacy", False, id="legacy"), pytest.param("v2", True, id="v2")],
)
def test_only_the_v2_success_documents_strict_transport_security(version: Version, present: bool) -> None:
    headers = _responses(spec.version_view(version))["200"]["headers"]
    assert ("Strict-Transport-Security" in headers) is present


@pytest.mark.parametrize(
    ("version", "order"),
    [
        pytest.param("legacy", ["WriteKeyHeader", "WriteKeyQuery"], id="legacy-header-over-query"),
        pytest.param("v2", ["TD1Authorization", "WriteKeyHeader"], id="v2-authorization-over-header"),
    ],
)
def test_the_credential_precedence_follows_the_docs(version: Version, order: list[str]) -> None:
    assert spec.credential_precedence(version) == order
    assert _operation(spec.version_view(version))["x-postback-precedence"] == order


@pytest.mark.parametrize(
    ("name", "versions"),
    [
        pytest.param("WriteKeyHeader", None, id="header-both"),
        pytest.param("WriteKeyQuery", ["legacy"], id="query-legacy"),
        pytest.param("TD1Authorization", ["v2"], id="td1-v2"),
    ],
)
def test_each_security_scheme_is_marked_with_the_versions_it_serves(
    name: str, versions: list[str] | None
) -> None:
    assert _schemes(spec.load_spec())[name].get("x-postback-versions") == versions


# The defects of Treasure Data's published files (anchors/README.md) are absent ----------------------------


def test_response_headers_are_modelled_as_headers_not_as_body_properties() -> None:
    """Defect: the anchors model Content-Type, Date, Strict-Transport-Security, Content-Length and Connection
    as JSON body properties."""
    document = spec.load_spec()
    for _, node in _walk(document):
        if isinstance(node, dict) and isinstance(node.get("properties"), dict):
            assert not set(node["properties"]) & set(RESPONSE_HEADER_NAMES)
    assert set(_responses(document)["200"]["headers"]) == set(RESPONSE_HEADER_NAMES)


def test_the_success_body_is_exactly_the_empty_object() -> None:
    """Defect: the anchors describe the 200 body as an object of header fields; the real body is ``{}``."""
    media = _responses(spec.load_spec())["200"]["content"]["application/json"]
    schema = _resolve(spec.load_spec(), media["schema"])
    assert schema["type"] == "object"
    assert schema["maxProperties"] == 0
    assert media["example"] == {}


def test_every_error_response_describes_a_json_object_body() -> None:
    """Defect: the anchors describe no error body."""
    document = spec.load_spec()
    errors = {code: response for code, response in _responses(document).items() if code.startswith("4")}
    assert set(errors) == {"400", "401", "403", "404", "413", "415"}
    for response in errors.values():
        schema = _resolve(document, response["content"]["application/json"]["schema"])
        assert schema["title"] == "Error"
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is True
        assert "required" not in schema


def test_the_request_body_is_a_json_object_not_a_string() -> None:
    """Defect: 1.0.0 types the request body as ``type: string`` (with ``additionalProperties``)."""
    document = spec.load_spec()
    schema = _resolve(document, _request_body(document)["content"]["application/json"]["schema"])
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is True


def test_the_write_key_header_is_not_a_required_parameter() -> None:
    """Defect: 1.0.0 marks ``X-TD-Write-Key`` as a required header although ``?td_write_key`` replaces it."""
    document = spec.load_spec()
    parameters = [
        _resolve(document, parameter)
        for parameter in [
            *document["paths"][OPERATION_PATH].get("parameters", []),
            *_operation(document).get("parameters", []),
        ]
    ]
    assert all(parameter["in"] == "path" for parameter in parameters)


def test_every_credential_form_is_a_declared_security_scheme_and_an_alternative() -> None:
    """Defect: 1.0.0 never declares the ``td_write_key`` query parameter and has no ``securitySchemes``."""
    document = spec.load_spec()
    schemes = _schemes(document)
    assert {(s["type"], s["in"], s["name"]) for s in schemes.values()} == {
        ("apiKey", "header", "X-TD-Write-Key"),
        ("apiKey", "query", "td_write_key"),
        ("apiKey", "header", "Authorization"),
    }
    # One requirement per scheme: each credential form alone is enough.
    assert sorted(map(list, _operation(document)["security"])) == sorted([name] for name in schemes)


def test_the_path_names_carry_an_anchored_pattern() -> None:
    """Defect: the anchors' path parameters have no ``pattern``, although the prose allows letters, numbers
    and ``_`` only."""
    document = spec.load_spec()
    for parameter in document["paths"][OPERATION_PATH]["parameters"]:
        assert _resolve(document, parameter)["schema"]["pattern"] == "^[A-Za-z0-9_]+$"
    assert spec.name_pattern() == "^[A-Za-z0-9_]+$"


def test_the_date_example_is_a_real_http_date_not_a_date_time() -> None:
    """Defect: the anchors' ``Date`` example ``Wed, DD MM YYYY xx:yy:zz GMT`` does not match its
    ``format: date-time``."""
    document = spec.load_spec()
    header = _resolve(document, _responses(document)["200"]["headers"]["Date"])
    assert "format" not in header["schema"]
    example = header["example"]
    parsed = email.utils.parsedate_to_datetime(example)
    assert parsed.strftime("%a, %d %b %Y %H:%M:%S GMT") == example  # the weekday is the right one too
    assert re.fullmatch(header["schema"]["pattern"], example)


def test_403_says_when_it_is_given_and_that_unknown_keys_get_200() -> None:
    """Defect: the anchors list 403 while their prose says invalid keys are answered 200, and never say when
    403 happens."""
    responses = _responses(spec.load_spec())
    description = " ".join(responses["403"]["description"].split())
    assert "missing or malformed" in description
    assert "answered **200**" in description
    assert "EP-05" in responses["200"]["description"]


def test_the_v2_body_cap_is_machine_readable() -> None:
    """Defect: the 1,048,064-byte cap of v2 is prose only in the anchors."""
    wrapper = _request_body(spec.load_spec())["x-postback-max-body-bytes"]
    assert wrapper == {"x-postback-versions": ["v2"], "x-postback-value": CAP}
    assert spec.body_cap("v2") == CAP


def test_post_body_values_are_not_said_to_be_processed_as_strings() -> None:
    """Defect: the anchors say "Parameter values are processed as the data type string", which belongs to the
    GET/pixel form; for POST the JSON types survive."""
    document = spec.load_spec()
    body = _request_body(document)
    text = " ".join(body["description"].split())
    assert "Parameter values are processed as the data type string" not in text
    assert "keeps its JSON type" in text
    assert body["content"]["application/json"]["examples"]["legacy_doc"]["value"]["param2"] == 1234
    schema = _resolve(document, body["content"]["application/json"]["schema"])
    for name in ("time", "td_global_id", "td_ua"):
        assert "type" not in schema["properties"][name]


# Patterns ------------------------------------------------------------------------------------------------


def test_the_pattern_check_below_sees_every_pattern_of_the_spec() -> None:
    # Names, td_record_time, Date and Strict-Transport-Security.
    assert len(_patterns()) == 5


@pytest.mark.parametrize("pattern", _patterns())
def test_every_pattern_is_anchored_and_compiles(pattern: str) -> None:
    assert pattern.startswith("^")
    assert pattern.endswith("$")
    re.compile(pattern)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        pytest.param("test_db", True, id="letters-and-underscore"),
        pytest.param("ABC_xyz_0123456789", True, id="both-cases-and-digits"),
        pytest.param("_", True, id="single-underscore"),
        pytest.param("", False, id="empty"),
        pytest.param("a-b", False, id="hyphen"),
        pytest.param("a.b", False, id="dot"),
        pytest.param("a b", False, id="space"),
        pytest.param("abc\n", False, id="trailing-newline"),
        pytest.param("a\x00", False, id="nul"),
        pytest.param("a/b", False, id="slash"),
        pytest.param("caf\u00e9", False, id="non-ascii-letter"),
        pytest.param("stra\u00dfe", False, id="sharp-s"),
        pytest.param("\u0663", False, id="arabic-indic-digit"),
        pytest.param("\uff15", False, id="fullwidth-digit"),
        pytest.param("\u212a", False, id="kelvin-sign"),
    ],
)
def test_the_name_pattern_allows_only_ascii_letters_digits_and_underscore(name: str, valid: bool) -> None:
    assert spec.is_valid_name(name) is valid


def _hsts_pattern() -> str:
    header = _responses(spec.load_spec())["200"]["headers"]["Strict-Transport-Security"]
    return str(header["schema"]["pattern"])


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        pytest.param("max-age=31536000", True, id="one-year"),
        pytest.param("max-age=63072000; includeSubDomains; preload", True, id="two-years-with-directives"),
        pytest.param("includeSubDomains; Max-Age=31536001", True, id="directive-first-mixed-case"),
        pytest.param('max-age="99999999"', True, id="quoted"),
        pytest.param("max-age=100000000", True, id="nine-digits"),
        pytest.param("max-age=31535999", False, id="one-second-short"),
        pytest.param("max-age=0", False, id="zero"),
        pytest.param("max-age=3153600", False, id="seven-digits"),
        pytest.param("includeSubDomains", False, id="no-max-age"),
        pytest.param("xmax-age=31536000", False, id="other-directive"),
    ],
)
def test_the_hsts_pattern_requires_a_max_age_of_at_least_one_year(value: str, valid: bool) -> None:
    assert (re.fullmatch(_hsts_pattern(), value) is not None) is valid


# Schemas -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "valid"),
    [pytest.param({}, True, id="empty-object"), pytest.param({"a": 1}, False, id="one-field")],
)
def test_the_200_schema_accepts_only_the_empty_object(body: Any, valid: bool) -> None:
    document = spec.load_spec()
    ref = _responses(document)["200"]["content"]["application/json"]["schema"]["$ref"]
    assert _validator(document, ref).is_valid(body) is valid


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        pytest.param({}, True, id="empty-object"),
        pytest.param(
            {"error": "bad name", "message": "only [A-Za-z0-9_]", "code": 400}, True, id="any-fields"
        ),
        pytest.param([], False, id="array"),
        pytest.param("bad", False, id="string"),
    ],
)
def test_the_error_schema_accepts_any_json_object(body: Any, valid: bool) -> None:
    assert _validator(spec.load_spec(), "#/components/schemas/Error").is_valid(body) is valid


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        pytest.param({"param1": "value1", "param2": 1234}, True, id="legacy-example"),
        pytest.param({"nested": {"a": [1, 2.5, None, True]}}, True, id="any-json-values"),
        pytest.param({"td_record_time": 1448344701}, True, id="record-time-integer"),
        pytest.param({"td_record_time": "1448344701"}, True, id="record-time-digit-string"),
        pytest.param({"td_record_time": "yesterday"}, False, id="record-time-words"),
        pytest.param({"td_record_time": "-5"}, False, id="record-time-signed-string"),
        pytest.param([{"a": 1}], False, id="array"),
        pytest.param("text", False, id="string"),
        pytest.param(12, False, id="number"),
        pytest.param(None, False, id="null"),
    ],
)
def test_the_record_schema_accepts_json_objects_only(body: Any, valid: bool) -> None:
    assert _validator(spec.load_spec(), "#/components/schemas/Record").is_valid(body) is valid


def _examples() -> list[Any]:
    """(schema pointer, example) for every example in the document, with an id naming where it sits."""
    document = spec.load_spec()
    found: list[Any] = []
    for pointer, node in _walk(document):
        if not isinstance(node, dict):
            continue
        if "schema" in node:  # a media type, header or parameter
            if "example" in node:
                found.append(pytest.param(f"{pointer}/schema", node["example"], id=f"{pointer}/example"))
            for name, example in node.get("examples", {}).items():
                found.append(
                    pytest.param(f"{pointer}/schema", example["value"], id=f"{pointer}/examples/{name}")
                )
        elif isinstance(node.get("examples"), list):  # a schema
            for index, example in enumerate(node["examples"]):
                found.append(pytest.param(pointer, example, id=f"{pointer}/examples/{index}"))
    return found


@pytest.mark.parametrize(("pointer", "example"), _examples())
def test_every_example_matches_its_schema(pointer: str, example: Any) -> None:
    _validator(spec.load_spec(), pointer).validate(example)


# Tools and the loader ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_schemathesis_loads_each_view_and_finds_exactly_one_operation(version: Version) -> None:
    schema = schemathesis.openapi.from_dict(spec.version_view(version))
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results
    assert [result.ok().label for result in results if isinstance(result, Ok)] == [f"POST {OPERATION_PATH}"]


def test_every_response_names_catalogued_clauses() -> None:
    catalog = tomllib.loads((REPO_ROOT / "conformance" / "contract" / "clauses.toml").read_text("utf-8"))
    for code, response in _responses(spec.load_spec()).items():
        clauses = response["x-postback-clauses"]
        assert clauses, code
        assert set(clauses) <= set(catalog), code
        assert "RESP-01" in clauses


def test_the_spec_path_is_the_project_spec_file() -> None:
    assert spec.SPEC_PATH.resolve() == (REPO_ROOT / "specs" / "openapi.yaml").resolve()


def test_spec_sha256_is_the_hash_of_the_file_bytes() -> None:
    expected = hashlib.sha256((REPO_ROOT / "specs" / "openapi.yaml").read_bytes()).hexdigest()
    assert spec.spec_sha256() == expected


def test_load_spec_returns_a_copy_the_caller_may_change() -> None:
    first = spec.load_spec()
    first["info"]["title"] = "changed"
    first["paths"].clear()
    assert spec.load_spec()["info"]["title"] != "changed"
    assert spec.version_view("v2")["paths"]


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_dump_view_writes_yaml_that_reads_back_as_the_view(version: Version, tmp_path: Path) -> None:
    target = tmp_path / "views" / f"{version}.yaml"
    spec.dump_view(version, target)
    assert yaml.safe_load(target.read_text("utf-8")) == spec.version_view(version)
