"""The contract model: what a conformant target may answer to a request, and whether it must ingest it.

Pure and I/O-free. It knows nothing of the reference target (which implements the API on its own, so one
misreading cannot hide in both). Every outcome names the clause IDs that decide it.

Sources: [L] the legacy Postback doc; [V2] the Postback v2 quickstart; docs/requirements.md for the
clause IDs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from conformance.contract.catalog import Level, clause
from conformance.contract.profile import Profile

# [V2] "Payload limits": the request body is capped at 1,048,064 bytes.
V2_BODY_CAP = 1_048_064
# [L], [V2] Parameters: "only alphabets/numbers or _ are allowed" (ASCII only, matched in full).
_NAME = re.compile(r"[A-Za-z0-9_]+", re.ASCII)
# A well-formed TD write key: account ID, "/", 40 hex digits.
WELL_FORMED_KEY = re.compile(r"[0-9]+/[0-9a-fA-F]{40}", re.ASCII)
# [L] Response; [V2] differences table: the statuses each version documents for the POST.
DOCUMENTED_STATUSES: dict[str, frozenset[int]] = {
    "legacy": frozenset({200, 400, 403}),
    "v2": frozenset({200, 400, 403, 413}),
}
# Statuses that a clause explicitly allows on top (AUTH-08/09: 401; NAME-03: 404; BODY-07: 415; RESP-03: 405).
CLAUSE_ALLOWED_STATUSES = frozenset({401, 404, 405, 415})
AUTH_REJECTION_STATUSES = frozenset({200, 400, 401, 403})


class Cred(StrEnum):
    """The validity of one credential the suite sends (never the key itself: that stays secret)."""

    VALID = "valid"
    UNKNOWN = "unknown"  # well-formed, not a key of the target's account
    MALFORMED = "malformed"
    EMPTY = "empty"


@dataclass(frozen=True)
class Authorization:
    """An Authorization header: a scheme and, unless the value is the bare scheme, a key."""

    scheme: str = "TD1"
    key: Cred | None = Cred.VALID

    @property
    def is_td1_credential(self) -> bool:
        # RFC 9110 section 11.1: auth scheme names are case-insensitive (AUTH-10). An empty key is no key:
        # "TD1 " on the wire is the bare scheme, a field value has no trailing whitespace (section 5.5).
        return self.scheme.lower() == "td1" and self.key not in (None, Cred.EMPTY)


class Body(StrEnum):
    OBJECT = "object"  # a JSON object
    NON_OBJECT = "non-object"  # valid JSON, not an object (BODY-04)
    INVALID_JSON = "invalid-json"  # syntax error, truncation, trailing data, NaN (BODY-03)
    INVALID_UTF8 = "invalid-utf8"  # BODY-03
    EMPTY = "empty"  # BODY-05
    # A valid object a target may refuse (BODY-08): deep nesting, numbers no double or 64-bit integer holds
    # (RFC 8259 sections 6 and 9 allow limits), lone surrogate escapes such as "\ud800" (valid grammar, not
    # valid Unicode: RFC 8259 section 8.2 calls the behaviour of receivers unpredictable).
    STRESS = "stress"


class PathShape(StrEnum):
    OK = "ok"
    EMPTY_SEGMENT = "empty-segment"
    EXTRA_SEGMENT = "extra-segment"
    MISSING_SEGMENT = "missing-segment"  # NAME-03: /event/{db} with no table segment


class Ingest(StrEnum):
    MUST = "must"
    MUST_NOT = "must-not"
    MAY = "may"


@dataclass(frozen=True)
class RequestShape:
    """An abstract request: where credentials sit and how valid they are, the names, the body."""

    version: str  # "legacy" or "v2"
    method: str = "POST"
    header_key: Cred | None = Cred.VALID  # X-TD-Write-Key
    header_name: str = "X-TD-Write-Key"  # its spelling on the wire (AUTH-02: any letter case works)
    query_key: Cred | None = None  # ?td_write_key=
    authorization: Authorization | None = None
    database: str = "conformance"
    table: str = "probe"
    path: PathShape = PathShape.OK
    content_type: str | None = "application/json"
    body: Body = Body.OBJECT
    body_bytes: int = 64
    chunked: bool = False


@dataclass(frozen=True)
class Expectation:
    """What a conformant target does with a request, and which clauses say so.

    ``status_clauses`` decide the answer's status, ``ingest_clauses`` whether the record is ingested: a
    target that answers right but ingests wrong violates only the latter.
    """

    statuses: frozenset[int]
    ingest: Ingest
    status_clauses: tuple[str, ...]
    ingest_clauses: tuple[str, ...]
    reasons: tuple[str, ...] = field(default=())

    @property
    def clauses(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.status_clauses + self.ingest_clauses))

    def level(self, version: str) -> Level:
        """The strongest level among the deciding clauses: a miss is a failure (MUST) or a warning."""
        levels = {clause(cid).level_for(version) for cid in self.clauses}
        for level in (Level.MUST, Level.SHOULD):
            if level in levels:
                return level
        return Level.INFO

    def describe(self) -> str:
        statuses = "/".join(str(s) for s in sorted(self.statuses))
        return f"{statuses}, ingestion {self.ingest.value} ({', '.join(self.clauses)})"


@dataclass(frozen=True)
class _Rule:
    statuses: frozenset[int]
    clause: str
    reason: str
    ingest: Ingest = Ingest.MUST_NOT


def is_valid_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def effective_credential(shape: RequestShape) -> tuple[Cred | None, str]:
    """The credential the target must act on, and where it came from.

    Legacy ([L] Authentication): the X-TD-Write-Key header, else ?td_write_key; the header wins.
    v2 ([V2] Authentication): Authorization: TD1 wins over X-TD-Write-Key; no query key at all.
    """
    if shape.version == "legacy":
        if shape.header_key is not None:
            return shape.header_key, "header"
        if shape.query_key is not None:
            return shape.query_key, "query"
        return None, "none"
    if shape.authorization is not None and shape.authorization.is_td1_credential:
        return shape.authorization.key, "authorization"
    if shape.header_key is not None:
        return shape.header_key, "header"
    return None, "none"


@dataclass(frozen=True)
class _CredentialOutcome:
    statuses: frozenset[int]
    ingest: Ingest
    status_clauses: tuple[str, ...]
    ingest_clauses: tuple[str, ...]
    reason: str


def _overridden(shape: RequestShape) -> list[tuple[Cred | None, str]]:
    """Each credential the request carries that the target must not act on, with the clause that says so.

    Legacy: ?td_write_key under an X-TD-Write-Key ([L] "the header takes precedence", AUTH-04). v2: the
    X-TD-Write-Key under a TD1 Authorization ([V2] precedence, AUTH-06), ?td_write_key ([V2] "Not
    supported", AUTH-07), an Authorization that is not TD1 (AUTH-11; its key, None for a bare scheme).
    """
    cred, source = effective_credential(shape)
    auth = shape.authorization
    if shape.version == "legacy":
        return [(shape.query_key, "AUTH-04")] if source == "header" and shape.query_key is not None else []
    out: list[tuple[Cred | None, str]] = []
    if source == "authorization" and shape.header_key is not None:
        out.append((shape.header_key, "AUTH-06"))
    if shape.query_key is not None:
        out.append((shape.query_key, "AUTH-07"))
    if auth is not None and not auth.is_td1_credential:
        out.append((None if auth.key is Cred.EMPTY else auth.key, "AUTH-11"))
    return out


def _key_statuses(cred: Cred | None) -> frozenset[int]:
    """The statuses a request whose effective credential is ``cred`` may get (EP-05, AUTH-08/09)."""
    return frozenset({200}) if cred in (Cred.VALID, Cred.UNKNOWN) else AUTH_REJECTION_STATUSES


def _credential_outcome(shape: RequestShape) -> _CredentialOutcome:
    """What the credentials alone decide; the most specific clause is named, so a fault is pinned down.

    Where the request also carries a credential the target must not act on, and acting on it would change
    the answer or the ingestion, the clause that overrides it (precedence, "not supported") is the one
    named for that part: a target that got it wrong violated that clause, not the one for the key's kind.
    """
    cred, source = effective_credential(shape)
    auth = shape.authorization
    if shape.version == "legacy" and cred is None and auth is not None and auth.is_td1_credential:
        # [L] names X-TD-Write-Key and ?td_write_key only: TD1 alone is no credential the doc knows, but it
        # does not forbid honouring it either. The answer stays AUTH-09's; the ingestion is reported (CUT-02).
        td1_ingest = Ingest.MAY if auth.key is Cred.VALID else Ingest.MUST_NOT
        reason = "Authorization: TD1 alone on legacy (not named by the legacy doc)"
        return _CredentialOutcome(AUTH_REJECTION_STATUSES, td1_ingest, ("AUTH-09",), ("AUTH-09",), reason)
    if shape.version == "legacy" and shape.header_key is Cred.EMPTY and shape.query_key is not None:
        # [L]: "in case both header and URL parameters are provided, the header takes precedence"; whether an
        # empty header counts as provided is not said, so either reading is allowed.
        query_ingest = Ingest.MAY if shape.query_key is Cred.VALID else Ingest.MUST_NOT
        statuses = AUTH_REJECTION_STATUSES | _key_statuses(shape.query_key)
        reason = "empty header, query key"
        return _CredentialOutcome(statuses, query_ingest, ("AUTH-04",), ("AUTH-04",), reason)
    if cred is None:
        specific: tuple[str, ...] = ("AUTH-09",)
        if shape.version == "v2" and shape.query_key is not None:
            specific = ("AUTH-07",)  # [V2]: the URL key is not supported
        elif shape.version == "v2" and auth is not None:
            specific = ("AUTH-11",)  # an Authorization that is not a TD1 credential
        base = _CredentialOutcome(
            AUTH_REJECTION_STATUSES, Ingest.MUST_NOT, specific, specific, "no credential"
        )
    elif cred in (Cred.MALFORMED, Cred.EMPTY):
        reason = f"{cred.value} key in {source}"
        base = _CredentialOutcome(
            AUTH_REJECTION_STATUSES, Ingest.MUST_NOT, ("AUTH-08",), ("AUTH-08",), reason
        )
    elif cred is Cred.UNKNOWN:
        # [V2] "API key validation": answered 200, validated asynchronously, never ingested.
        base = _CredentialOutcome(
            frozenset({200}), Ingest.MUST_NOT, ("EP-05",), ("AUTH-08",), f"unknown key in {source}"
        )
    elif shape.version == "v2" and auth is not None and not auth.is_td1_credential:
        # AUTH-12 is INFO: the docs do not say whether an unrelated Authorization header blocks the key.
        return _CredentialOutcome(
            AUTH_REJECTION_STATUSES,
            Ingest.MAY,
            ("AUTH-12",),
            ("AUTH-12",),
            "valid key beside a non-TD1 Authorization",
        )
    else:
        accepted = _acceptance_clauses(shape, source)
        base = _CredentialOutcome(frozenset({200}), Ingest.MUST, accepted, accepted, f"valid key in {source}")
    if shape.version == "v2" and shape.query_key is not None:
        base = _url_key_refusable(base)
    overridden = _overridden(shape)
    # Acting on an overridden key instead: another status (an empty one where 200 is due), or the record
    # ingested (a valid one where none may be) or lost (any overridden key where the record must be).
    by_status = [c for key, c in overridden if not _key_statuses(key) <= base.statuses]
    by_ingest = [c for key, c in overridden if base.ingest is Ingest.MUST or key is Cred.VALID]
    return _CredentialOutcome(
        base.statuses,
        base.ingest,
        tuple(dict.fromkeys(by_status)) or base.status_clauses,
        tuple(dict.fromkeys(by_ingest)) or base.ingest_clauses,
        base.reason,
    )


def _url_key_refusable(base: _CredentialOutcome) -> _CredentialOutcome:
    """[V2] differences table: ?td_write_key is "Not supported". A target may ignore it (then the other
    credentials decide) or refuse the whole request (4xx, nothing ingested); only acting on it (AUTH-07) is
    wrong. So a refusal is always allowed, and a record that had to be ingested may be lost."""
    if base.statuses >= AUTH_REJECTION_STATUSES:
        return base
    ingest, ingest_clauses = base.ingest, base.ingest_clauses
    if ingest is Ingest.MUST:
        ingest, ingest_clauses = Ingest.MAY, ("AUTH-07",)
    reason = f"{base.reason}; ?td_write_key beside it: ignored or the request refused"
    statuses = base.statuses | AUTH_REJECTION_STATUSES
    return _CredentialOutcome(statuses, ingest, ("AUTH-07",), ingest_clauses, reason)


def _acceptance_clauses(shape: RequestShape, source: str) -> tuple[str, ...]:
    """The clauses that say a valid credential in ``source`` is accepted (the most specific one only)."""
    if source == "authorization":
        auth = shape.authorization
        # RFC 9110 section 11.1: only this SHOULD says a "td1" spelling must work (AUTH-10).
        return ("AUTH-10",) if auth is not None and auth.scheme != "TD1" else ("AUTH-05",)
    if source == "query":
        return ("AUTH-03",)
    if shape.header_name != "X-TD-Write-Key":
        return ("AUTH-02",)  # RFC 9110 section 5.1: field names are case-insensitive
    return ("EP-01", "AUTH-01")


def _request_rules(shape: RequestShape, profile: Profile) -> list[_Rule]:
    """Rules that reject (or leave open) a request whatever its credential."""
    rules: list[_Rule] = []
    if shape.method != "POST":
        if shape.method in ("GET", "HEAD") and shape.version == "legacy":
            # The deprecated pixel form: reported, not judged (RESP-03 note).
            rules.append(_Rule(frozenset(range(200, 500)), "RESP-03", "GET on legacy", Ingest.MAY))
        else:
            rules.append(
                _Rule(frozenset({404, 405}), "RESP-03", f"{shape.method} is not the endpoint's method")
            )
    if shape.path is not PathShape.OK:
        rules.append(_Rule(frozenset({400, 404}), "NAME-03", shape.path.value))
    else:
        for name in (shape.database, shape.table):
            if not is_valid_name(name):
                rules.append(_Rule(frozenset({400}), "NAME-02", f"name {name!r} has a forbidden character"))
            elif not profile.name_min <= len(name) <= profile.name_max:
                rules.append(
                    _Rule(
                        frozenset({200, 400}),
                        "NAME-05",
                        f"name length {len(name)} outside profile",
                        Ingest.MAY,
                    )
                )
    rules.extend(_body_rules(shape))
    return rules


def _body_rules(shape: RequestShape) -> list[_Rule]:
    rules: list[_Rule] = []
    if shape.version == "v2" and shape.body_bytes > V2_BODY_CAP:
        cid = "SIZE-04" if shape.chunked else "SIZE-02"
        rules.append(_Rule(frozenset({413}), cid, f"{shape.body_bytes} bytes is over the cap"))
        return rules  # [V2] Payload limits: size is decided before the body is read.
    if shape.version == "legacy" and shape.body_bytes > V2_BODY_CAP:
        rules.append(_Rule(frozenset({200, 400, 413}), "SIZE-07", "legacy documents no cap", Ingest.MAY))
    if not _is_json_media_type(shape.content_type):
        rules.append(_Rule(frozenset({400, 415}), "BODY-07", f"Content-Type {shape.content_type!r}"))
    body_rules = {
        Body.INVALID_JSON: ("BODY-03", "not valid JSON"),
        Body.INVALID_UTF8: ("BODY-03", "not valid UTF-8"),
        Body.NON_OBJECT: ("BODY-04", "JSON that is not an object"),
        Body.EMPTY: ("BODY-05", "empty body"),
    }
    if shape.body in body_rules:
        cid, reason = body_rules[shape.body]
        rules.append(_Rule(frozenset({400}), cid, reason))
    elif shape.body is Body.STRESS:
        # A target may refuse what it cannot represent (RFC 8259 section 9 allows limits); 413 is v2's answer.
        statuses = frozenset({200, 400, 413} if shape.version == "v2" else {200, 400})
        rules.append(_Rule(statuses, "BODY-08", "a valid object a target may refuse", Ingest.MAY))
    return rules


def _is_json_media_type(content_type: str | None) -> bool:
    # RFC 9110 section 8.3.1: type and subtype are case-insensitive; parameters follow a ";".
    if content_type is None:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def expect(shape: RequestShape, profile: Profile | None = None) -> Expectation:
    """The outcome a conformant target gives ``shape``: allowed statuses and ingestion, with clause IDs."""
    profile = profile or Profile()
    cred = _credential_outcome(shape)
    rules = _request_rules(shape, profile)
    rejecting = [r for r in rules if r.ingest is Ingest.MUST_NOT]
    open_rules = [r for r in rules if r.ingest is Ingest.MAY]
    if rejecting:
        statuses = frozenset().union(*(r.statuses for r in rejecting))
        size_first = any(r.clause.startswith("SIZE-") for r in rejecting)
        if cred.ingest is not Ingest.MUST and not size_first:
            # A target may look at the credential first (AUTH-08/09 allow 400/401/403 there).
            statuses |= cred.statuses - {200}
        ingest = Ingest.MUST_NOT
        status_clauses = [r.clause for r in rejecting]
        ingest_clauses = list(status_clauses)
        reasons = [r.reason for r in rejecting]
    else:
        statuses, ingest = cred.statuses, cred.ingest
        status_clauses, ingest_clauses = list(cred.status_clauses), list(cred.ingest_clauses)
        reasons = [cred.reason]
        if _is_json_media_type(shape.content_type) and shape.content_type != "application/json":
            if ingest is Ingest.MUST:
                # RFC 9110 section 8.3.1: only BODY-06 (SHOULD) says a charset or case variant must work.
                status_clauses, ingest_clauses = ["BODY-06"], ["BODY-06"]
    for rule in open_rules:
        statuses |= rule.statuses
        if ingest is Ingest.MUST:
            ingest = Ingest.MAY
        status_clauses.append(rule.clause)
        ingest_clauses.append(rule.clause)
        reasons.append(rule.reason)
    statuses |= profile.extra_statuses
    return Expectation(
        frozenset(statuses),
        ingest,
        tuple(dict.fromkeys(status_clauses)),
        tuple(dict.fromkeys(ingest_clauses)),
        tuple(reasons),
    )


def allowed_statuses(version: str, profile: Profile | None = None, body_bytes: int = 0) -> frozenset[int]:
    """RESP-01: every status a conformant target may give a POST on the endpoint path.

    A legacy body over v2's cap may also get 413: legacy documents no cap, and SIZE-07 (INFO) reports
    whatever it answers, so RESP-01 must not fail the 413 that SIZE-07 allows.
    """
    extra = profile.extra_statuses if profile else frozenset()
    over_cap = frozenset({413}) if version == "legacy" and body_bytes > V2_BODY_CAP else frozenset()
    return DOCUMENTED_STATUSES[version] | CLAUSE_ALLOWED_STATUSES | over_cap | extra


def in_shared_contract(shape: RequestShape) -> bool:
    """CUT-01: inside the contract both versions share (X-TD-Write-Key only, valid names, JSON object)."""
    return (
        shape.method == "POST"
        and shape.header_key in (Cred.VALID, Cred.UNKNOWN)
        and is_valid_name(shape.database)
        and is_valid_name(shape.table)
        and shape.query_key is None
        and shape.authorization is None
        and shape.path is PathShape.OK
        and shape.content_type == "application/json"
        and shape.body is Body.OBJECT
        and shape.body_bytes <= V2_BODY_CAP
    )


def documented_difference(shape: RequestShape) -> str | None:
    """CUT-02: the differences the v2 quickstart documents, or None."""
    if shape.query_key is not None:
        return "?td_write_key is a credential on legacy only"
    if shape.authorization is not None and shape.authorization.is_td1_credential:
        return "Authorization: TD1 is a credential on v2 only"
    if shape.body_bytes > V2_BODY_CAP:
        return "v2 caps the body at 1,048,064 bytes"
    return None
