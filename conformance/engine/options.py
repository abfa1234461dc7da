"""Every option of the suite, defined once (name, environment variable, kind, group, help).

From this one table come the pytest options (``conformance.plugin.options``), their environment
variables, ``postback-conformance --help`` (``conformance.__main__``) and the options page of the docs
(``docs/options.md``, ``python -m conformance.engine.options``; a self-test fails when it is not current).
No pytest here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

GROUPS = {
    "target": "Target and keys",
    "readback": "Read-back",
    "verdict": "Verdict and reports",
    "safety": "Account safety, TLS and proxies",
    "speed": "Speed and bounds",
}


@dataclass(frozen=True)
class Option:
    """One suite option. ``kind``: str, list (the option may be given several times; its environment
    variable holds the values separated by spaces) or flag; ``summary``: its line in --help; ``help``: the
    whole text (pytest's --help, the docs)."""

    flag: str
    env: str | None
    dest: str
    kind: str
    group: str
    metavar: str
    summary: str
    help: str


OPTIONS: tuple[Option, ...] = (
    Option(
        "--target",
        "POSTBACK_TARGET",
        "pb_target",
        "list",
        "target",
        "[VERSION=]URL",
        "base URL of a target (repeatable); none: the embedded reference targets",
        "base URL of a target (scheme://host[:port][/prefix]), with its API version before it where it is"
        " not inferred (v2=https://...); give it several times to certify several targets in one run (one"
        " report, a verdict per target); none: start the embedded reference targets (legacy and v2) on"
        " loopback",
    ),
    Option(
        "--api-version",
        "POSTBACK_API_VERSION",
        "pb_api_version",
        "str",
        "target",
        "legacy|v2",
        "contract to hold it to (inferred for TD hosts)",
        "contract to hold the target to: legacy or v2 (may be omitted for "
        "*.records.in.treasuredata.com and *in.treasuredata.com hosts)",
    ),
    Option(
        "--write-key",
        "POSTBACK_WRITE_KEY",
        "pb_write_key",
        "str",
        "target",
        "KEY",
        "a valid write key (prefer the environment variable)",
        "a valid write key for the target (prefer the environment variable: options show up in "
        "process lists)",
    ),
    Option(
        "--database",
        "POSTBACK_DATABASE",
        "pb_database",
        "str",
        "target",
        "NAME",
        "where accepted probe records go (default conformance)",
        "database that accepted probe records go to (must exist on a real service; default: conformance)",
    ),
    Option(
        "--table",
        "POSTBACK_TABLE",
        "pb_table",
        "str",
        "target",
        "NAME",
        "the probe table (default probe)",
        "table that accepted probe records go to (default: probe)",
    ),
    Option(
        "--compare-target",
        "POSTBACK_COMPARE_TARGET",
        "pb_compare_target",
        "str",
        "target",
        "URL",
        "second target of a cutover comparison (CUT clauses)",
        "second target of a cutover comparison (CUT clauses)",
    ),
    Option(
        "--compare-api-version",
        "POSTBACK_COMPARE_API_VERSION",
        "pb_compare_api_version",
        "str",
        "target",
        "legacy|v2",
        "contract version of the compare target",
        "contract version of the compare target",
    ),
    Option(
        "--compare-write-key",
        "POSTBACK_COMPARE_WRITE_KEY",
        "pb_compare_write_key",
        "str",
        "target",
        "KEY",
        "write key of the compare target",
        "write key of the compare target (default: the --write-key)",
    ),
    Option(
        "--readback",
        "POSTBACK_READBACK",
        "pb_readback",
        "list",
        "readback",
        "URL|td",
        "read-back: a protocol v1 URL, or td for TD's query API",
        "base URL of the target's read-back service (protocol v1), or td / td:<API endpoint URL> "
        "for Treasure Data's own query API (API key from POSTBACK_TD_API_KEY only); with several"
        " --target, one --readback per target in the same order (td alone: for all); none: read-back"
        " clauses are skipped",
    ),
    Option(
        "--settle",
        "POSTBACK_SETTLE",
        "pb_settle",
        "float",
        "readback",
        "SECONDS",
        "how long ingestion may take (one wait per run; default 0)",
        "seconds ingestion may take before a record counts as absent; the run waits about one "
        "settle period in total (default 0)",
    ),
    Option(
        "--compare-readback",
        "POSTBACK_COMPARE_READBACK",
        "pb_compare_readback",
        "str",
        "readback",
        "URL|td",
        "read-back of the compare target",
        "read-back of the compare target (a protocol v1 URL, td or td:<API endpoint URL>)",
    ),
    Option(
        "--conformance-profile",
        "POSTBACK_PROFILE",
        "pb_profile",
        "str",
        "verdict",
        "FILE",
        "TOML overrides of what the docs leave open",
        "TOML file overriding expectations the docs leave open (name lengths, clock tolerance, "
        "extra statuses, budget)",
    ),
    Option(
        "--report-dir",
        "POSTBACK_REPORT_DIR",
        "pb_report_dir",
        "str",
        "verdict",
        "DIR",
        "where the reports go (default reports/)",
        "where junit.xml, report.html and results.json go (default: reports/)",
    ),
    Option(
        "--run-id",
        "POSTBACK_RUN_ID",
        "pb_run_id",
        "str",
        "verdict",
        "ID",
        "prefix of every probe's conformance_id",
        "prefix of every probe record's conformance_id (default: pc<UTC time><random>)",
    ),
    Option(
        "--seed",
        "POSTBACK_SEED",
        "pb_seed",
        "int",
        "verdict",
        "N",
        "seed of generated requests (default random, reported)",
        "seed for generated requests (default: random, printed in the header and stored in results.json)",
    ),
    Option(
        "--baseline",
        "POSTBACK_BASELINE",
        "pb_baseline",
        "str",
        "verdict",
        "FILE",
        "results.json of an earlier run to compare with",
        "results.json of an earlier run: report per clause what regressed, was fixed or is new",
    ),
    Option(
        "--fail-on",
        "POSTBACK_FAIL_ON",
        "pb_fail_on",
        "str",
        "verdict",
        "any|regression",
        "what fails the run (default any MUST failure)",
        "what fails the run: 'any' MUST failure (default), or only a 'regression' against --baseline",
    ),
    Option(
        "--require-complete",
        "POSTBACK_REQUIRE_COMPLETE",
        "pb_require_complete",
        "flag",
        "verdict",
        "",
        "an incomplete verdict fails the run (certification)",
        "an incomplete verdict (nothing failed, but an applicable MUST clause was not decided: no "
        "read-back, deselected, https only) fails the run with exit status 1 (certification runs)",
    ),
    Option(
        "--ca-bundle",
        "POSTBACK_CA_BUNDLE",
        "pb_ca_bundle",
        "str",
        "safety",
        "FILE",
        "CA bundle (PEM) to verify the target's TLS with",
        "CA bundle (PEM) to verify the target's TLS certificate with",
    ),
    Option(
        "--insecure",
        "POSTBACK_INSECURE",
        "pb_insecure",
        "flag",
        "safety",
        "",
        "do not verify TLS certificates",
        "do not verify TLS certificates",
    ),
    Option(
        "--allow-insecure-http",
        "POSTBACK_ALLOW_INSECURE_HTTP",
        "pb_allow_insecure_http",
        "flag",
        "safety",
        "",
        "allow a write key over plain http to a remote host",
        "allow sending a write key over plain http to a host outside the loopback range",
    ),
    Option(
        "--proxy",
        "POSTBACK_PROXY",
        "pb_proxy",
        "str",
        "safety",
        "URL",
        "HTTP(S) proxy for the given targets",
        "HTTP(S) proxy URL for the given targets (default: HTTPS_PROXY/NO_PROXY for remote ones; "
        "never for the embedded targets)",
    ),
    Option(
        "--client-cert",
        "POSTBACK_CLIENT_CERT",
        "pb_client_cert",
        "str",
        "safety",
        "FILE",
        "client certificate (PEM) for mutual TLS",
        "client certificate (PEM) for targets behind mutual TLS",
    ),
    Option(
        "--client-key",
        "POSTBACK_CLIENT_KEY",
        "pb_client_key",
        "str",
        "safety",
        "FILE",
        "its private key, when not in the same file",
        "private key (PEM) of --client-cert, when not in the same file",
    ),
    Option(
        "--disposable-account",
        "POSTBACK_DISPOSABLE_ACCOUNT",
        "pb_disposable_account",
        "flag",
        "safety",
        "",
        "forbidden names may get the valid key (NAME-02 decided)",
        "the target's account is disposable: forbidden names (NAME-02) get the valid key, so their "
        "'never ingested' part is decided (a faulty target may then create tables named after them)",
    ),
    Option(
        "--max-rps",
        "POSTBACK_MAX_RPS",
        "pb_max_rps",
        "float",
        "speed",
        "N",
        "politeness cap, requests/s (default 20 off loopback)",
        "politeness cap in requests per second (default: none on loopback, 20 elsewhere)",
    ),
    Option(
        "--request-timeout",
        "POSTBACK_TIMEOUT",
        "pb_timeout",
        "float",
        "speed",
        "SECONDS",
        "deadline of one request, whole answer (default 30)",
        "per-request timeout in seconds (default 30)",
    ),
    Option(
        "--max-duration",
        "POSTBACK_MAX_DURATION",
        "pb_max_duration",
        "float",
        "speed",
        "SECONDS",
        "no test starts after this (default 1800)",
        "bound on the whole run in seconds: tests not started by then are skipped (default 1800)",
    ),
)
FLAGS: frozenset[str] = frozenset(o.flag for o in OPTIONS)


def nearest(flag: str) -> str | None:
    """The suite option a mistyped one most likely meant (``--targt`` -> ``--target``), or None."""
    name = flag.split("=", 1)[0]
    if name in FLAGS or not name.startswith("--"):
        return None
    close = difflib.get_close_matches(name, sorted(FLAGS), n=1, cutoff=0.8)
    return close[0] if close else None


def markdown() -> str:
    """docs/options.md: every option by group, with its environment variable and its whole help."""
    lines = [
        "# Options",
        "",
        "Generated from `conformance/engine/options.py` by `python -m conformance.engine.options > "
        "docs/options.md` (a self-test fails when it is not current). Every option is also read from the "
        "environment variable shown (the option wins), and works as `--opt value` and `--opt=value`; every "
        "pytest option works too (`pytest --help`).",
    ]
    for group, title in GROUPS.items():
        lines += ["", f"## {title}", "", "| option | environment | meaning |", "|---|---|---|"]
        for option in OPTIONS:
            if option.group == group:
                flag = f"`{option.flag}{' ' + option.metavar if option.metavar else ''}`".replace("|", "\\|")
                env = f"`{option.env}`" if option.env else ""
                text = option.help.replace("|", "\\|")
                lines.append(f"| {flag} | {env} | {text} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(markdown(), end="")
