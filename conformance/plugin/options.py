"""The suite's command-line options (docs/contract.md, "Options"), each also read from an environment
variable.

The option wins over the environment. :func:`settings_from_config` turns them into validated
:class:`Settings`, raising ``pytest.UsageError`` with one clear sentence for anything unusable.
"""

from __future__ import annotations

import os
import random
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from conformance.contract.hosts import version_of_host
from conformance.contract.model import is_valid_name
from conformance.contract.profile import ProfileError, load_profile
from conformance.engine.options import OPTIONS as OPTION_TABLE
from conformance.engine.options import nearest
from conformance.engine.rundata import Settings, TargetOptions
from conformance.readback.td import API_KEY_ENV as TD_API_KEY_ENV
from conformance.readback.td import is_td, parse_readback
from conformance.transport.client import is_loopback

# (option, env var, dest, help, kind), from the one option table (conformance/engine/options.py).
OPTIONS: tuple[tuple[str, str | None, str, str, str], ...] = tuple(
    (o.flag, o.env, o.dest, o.help, o.kind) for o in OPTION_TABLE
)

DEFAULT_REMOTE_RPS = 20.0
DEFAULT_MAX_DURATION = 1800.0
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")
# The run ID as results.schema.json accepts it ("run_id"): what the option takes, the report takes.
RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"


def refuse_mistyped_options(parser: pytest.Parser, args: list[str]) -> None:
    """``pytest --targt=x``: one line naming the suite option meant, exit status 4 (not pytest's list of
    every unrecognized argument). Only an option no plugin knows and that is one typo from a suite option."""
    _, unknown = parser.parse_known_and_unknown_args(args)
    for arg in unknown:
        guess = nearest(arg) if arg.startswith("--") else None
        if guess is not None:
            name = arg.split("=", 1)[0]
            raise pytest.UsageError(f"postback-conformance: unknown option {name} (did you mean {guess}?)")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("postback", "Postback API conformance (postback-conformance)")
    for flag, env, dest, help_text, kind in OPTIONS:
        env_note = f" [env {env}]" if env else ""
        if kind == "flag":
            group.addoption(flag, action="store_true", dest=dest, default=False, help=help_text + env_note)
        elif kind == "list":
            group.addoption(
                flag,
                action="append",
                dest=dest,
                default=None,
                metavar=dest[3:].upper(),
                help=help_text + env_note,
            )
        else:
            group.addoption(
                flag,
                action="store",
                dest=dest,
                default=None,
                metavar=dest[3:].upper(),
                help=help_text + env_note,
            )


def _raw(config: pytest.Config, dest: str, env: str | None, kind: str = "str") -> Any:
    value = config.getoption(dest)
    if value in (None, False) and env:
        text = os.environ.get(env)
        if kind == "flag" and text is not None:
            word = text.strip().lower()
            if word not in TRUE_WORDS + FALSE_WORDS:
                raise pytest.UsageError(f"{env} must be 1, true, yes or 0, false, no; got {text!r}")
            return word in TRUE_WORDS
        value = (text.split() or None if text else None) if kind == "list" else (text or None)
    return value


def _number(value: Any, flag: str, kind: type[float] | type[int], minimum: float = 0) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{flag} must be a number, got {value!r}") from None
    if number < minimum:
        raise pytest.UsageError(f"{flag} must be at least {minimum:g}, got {value!r}")
    return number


def infer_version(url: str) -> str | None:
    """The version a Treasure Data target URL's host serves (conformance.contract.hosts)."""
    return version_of_host(urlsplit(url).hostname or "")


def _target(
    url: str | None,
    version: str | None,
    key: str | None,
    readback: str | None,
    flag: str,
    key_env: str,
    allow_http: bool,
) -> TargetOptions:
    if url is not None:
        try:
            parts = urlsplit(url)
        except ValueError:
            raise pytest.UsageError(
                f"{flag} must be an http(s) URL like https://host[:port][/prefix], got {url!r}"
            ) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise pytest.UsageError(
                f"{flag} must be an http(s) URL like https://host[:port][/prefix], got {url!r}"
            )
        if parts.query or parts.fragment:
            raise pytest.UsageError(f"{flag} must not carry a query or fragment: {url!r}")
        try:
            parts.port  # noqa: B018 - raises for a bad port
        except ValueError:
            raise pytest.UsageError(f"{flag} has an invalid port: {url!r}") from None
        version = version or infer_version(url)
        if version is None:
            raise pytest.UsageError(
                f"cannot tell the API version of {url}: "
                f"pass {flag.replace('target', 'api-version')} legacy or v2"
            )
        if not key:
            raise pytest.UsageError(f"a write key is needed for {url}: set {key_env} (or pass the option)")
        if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_http:
            raise pytest.UsageError(
                f"refusing to send a write key over plain http to {parts.hostname}; "
                "use https, or pass --allow-insecure-http if you mean it"
            )
    if version is not None and version not in ("legacy", "v2"):
        raise pytest.UsageError(f"unknown API version {version!r}: use legacy or v2")
    if is_td(readback):
        assert readback is not None
        try:
            readback = parse_readback(readback, url)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        if not os.environ.get(TD_API_KEY_ENV):
            raise pytest.UsageError(f"--readback={readback} needs the TD API key: set {TD_API_KEY_ENV}")
    elif readback is not None and urlsplit(readback).scheme not in ("http", "https"):
        raise pytest.UsageError(f"read-back URL must be http(s), got {readback!r}")
    return TargetOptions(url, version, key, readback, key_env)


def _given_targets(
    targets: list[str], readbacks: list[str]
) -> list[tuple[str | None, str | None, str | None]]:
    """(URL, version, read-back) per --target, from ``[VERSION=]URL`` values and the --readback values (one
    per target in the same order; one td value serves every target); no --target: the embedded run."""
    if not targets:
        if len(readbacks) > 1:
            raise pytest.UsageError("--readback was given more than once without --target")
        return [(None, None, readbacks[0] if readbacks else None)]
    if len(readbacks) == 1 and len(targets) > 1 and is_td(readbacks[0]):
        readbacks = readbacks * len(targets)
    if readbacks and len(readbacks) != len(targets):
        raise pytest.UsageError(
            f"{len(targets)} --target but {len(readbacks)} --readback: give one --readback per --target, "
            "in the same order (or td alone, for all of them)"
        )
    out: list[tuple[str | None, str | None, str | None]] = []
    for index, value in enumerate(targets):
        version, sep, url = value.partition("=")
        if not sep or "://" in version:
            version, url = "", value
        elif version not in ("legacy", "v2"):
            raise pytest.UsageError(f"--target={value}: the version before '=' must be legacy or v2")
        out.append((url, version or None, readbacks[index] if readbacks else None))
    if len({url for url, _, _ in out}) < len(out):
        raise pytest.UsageError("--target was given twice with the same URL")
    return out


def settings_from_config(config: pytest.Config) -> Settings:
    values = {dest: _raw(config, dest, env, kind) for _, env, dest, _, kind in OPTIONS}
    allow_http = bool(values["pb_allow_insecure_http"])
    primary, *extra = [
        _target(
            url,
            version or values["pb_api_version"],
            values["pb_write_key"],
            readback,
            "--target",
            "POSTBACK_WRITE_KEY",
            allow_http,
        )
        for url, version, readback in _given_targets(values["pb_target"] or [], values["pb_readback"] or [])
    ]
    compare = None
    if values["pb_compare_target"] is not None:
        if primary.url is None:
            raise pytest.UsageError(
                "--compare-target needs --target (the embedded run already compares both)"
            )
        if extra:
            raise pytest.UsageError("--compare-target compares two targets: give one --target with it")
        compare = _target(
            values["pb_compare_target"],
            values["pb_compare_api_version"],
            values["pb_compare_write_key"] or values["pb_write_key"],
            values["pb_compare_readback"],
            "--compare-target",
            "POSTBACK_COMPARE_WRITE_KEY" if values["pb_compare_write_key"] else "POSTBACK_WRITE_KEY",
            allow_http,
        )
    try:
        profile = load_profile(Path(values["pb_profile"]) if values["pb_profile"] else None)
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    seed = (
        _number(values["pb_seed"], "--seed", int)
        if values["pb_seed"] is not None
        else random.randrange(10**6)
    )
    max_rps = _number(values["pb_max_rps"], "--max-rps", float, 0.1) if values["pb_max_rps"] else None
    if max_rps is None and primary.url is not None:
        hosts = [urlsplit(t.url).hostname or "" for t in (primary, *extra, compare) if t and t.url]
        if not all(is_loopback(h) for h in hosts):
            max_rps = DEFAULT_REMOTE_RPS
    ca_bundle = values["pb_ca_bundle"]
    if ca_bundle and not Path(ca_bundle).is_file():
        raise pytest.UsageError(f"--ca-bundle {ca_bundle!r} is not a readable file")
    for name in ("pb_database", "pb_table"):
        if values[name] is not None and not is_valid_name(values[name]):
            raise pytest.UsageError(f"--{name[3:]} must be a name of ASCII letters, digits and _")
    fail_on = values["pb_fail_on"] or "any"
    if fail_on not in ("any", "regression"):
        raise pytest.UsageError(f"--fail-on must be 'any' or 'regression', got {fail_on!r}")
    baseline = Path(values["pb_baseline"]) if values["pb_baseline"] else None
    if fail_on == "regression" and baseline is None:
        raise pytest.UsageError("--fail-on regression needs --baseline FILE (an earlier results.json)")
    if baseline is not None:
        from conformance.cutover.baseline import BaselineError, load

        try:
            load(baseline)
        except BaselineError as exc:
            raise pytest.UsageError(str(exc)) from None
    run_id = values["pb_run_id"]
    if run_id is not None and not re.fullmatch(RUN_ID_PATTERN, run_id):
        raise pytest.UsageError(
            f"--run-id must be 1 to 64 letters, digits, - or _ (first a letter or digit), got {run_id!r}"
        )
    uses_td = any(t is not None and is_td(t.readback) for t in (primary, *extra, compare))
    return Settings(
        td_api_key=os.environ.get(TD_API_KEY_ENV) if uses_td else None,
        run_id=run_id,
        baseline=baseline,
        fail_on=fail_on,
        primary=primary,
        extra=tuple(extra),
        compare=compare,
        database=values["pb_database"] or "conformance",
        table=values["pb_table"] or "probe",
        settle=_number(values["pb_settle"], "--settle", float) if values["pb_settle"] is not None else 0.0,
        profile=profile,
        profile_path=values["pb_profile"],
        report_dir=Path(values["pb_report_dir"] or "reports"),
        seed=seed,
        # pytest's own --strict flag (it also turns on pytest's strict mode, which the suite satisfies).
        strict=bool(config.getoption("strict", False)),
        max_rps=max_rps,
        timeout=_number(values["pb_timeout"], "--request-timeout", float, 0.1)
        if values["pb_timeout"]
        else 30.0,
        ca_bundle=ca_bundle,
        insecure=bool(values["pb_insecure"]),
        allow_insecure_http=allow_http,
        **_network_settings(values),
        require_complete=bool(values["pb_require_complete"]),
        disposable_account=bool(values["pb_disposable_account"]),
    )


def _network_settings(values: dict[str, Any]) -> dict[str, Any]:
    """--max-duration, --proxy, --client-cert and --client-key, validated."""
    max_duration = values["pb_max_duration"]
    proxy = values["pb_proxy"]
    parts = urlsplit(proxy or "")
    if proxy is not None and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise pytest.UsageError(f"--proxy must be an http(s) URL like http://proxy:3128, got {proxy!r}")
    cert, key = values["pb_client_cert"], values["pb_client_key"]
    if key is not None and cert is None:
        raise pytest.UsageError("--client-key needs --client-cert")
    for flag, path in (("--client-cert", cert), ("--client-key", key)):
        if path is not None and not Path(path).is_file():
            raise pytest.UsageError(f"{flag} {path!r} is not a readable file")
    return {
        "max_duration": (
            _number(max_duration, "--max-duration", float, 1) if max_duration else DEFAULT_MAX_DURATION
        ),
        "proxy": proxy,
        "client_cert": (cert, key) if cert else None,
    }


def check_rootdir_choice(config: pytest.Config, args: list[str]) -> None:
    """``--opt value`` must never change which tests run (docs/contract.md: every option works in both forms).

    pytest picks its rootdir and inifile from the command line before plugins add their options, so the
    value of ``--report-dir /tmp/out`` counts there as a test path, and a path outside the directory pytest
    was started in moves the rootdir (and loses the project's ini file). Such a run is started again at
    once, before anything ran, with the option written ``--report-dir=/tmp/out`` (the same process, the
    same arguments otherwise). Where pytest was not started from the command line (``pytest.main``), the
    run stops with one usage line that says how to write the option.
    """
    invocation_dir = Path(config.invocation_params.dir).resolve()
    valued = {flag for flag, _, _, _, kind in OPTIONS if kind != "flag"}
    taken = [
        (flag, value)
        for flag, value in zip(args, args[1:], strict=False)
        if flag in valued and _moves_rootdir(invocation_dir, value)
    ]
    if not taken:
        return
    argv = list(sys.orig_argv)
    pairs = {index for index in range(1, len(argv) - 1) if (argv[index], argv[index + 1]) in taken}
    if len(pairs) == len(taken):  # started from this command line: start it again, joined
        joined: list[str] = []
        skip = False
        for index, part in enumerate(argv):
            if skip:
                skip = False
            elif index in pairs:
                joined.append(f"{part}={argv[index + 1]}")
                skip = True
            else:
                joined.append(part)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, *joined[1:]])
    flag, value = taken[0]
    raise pytest.UsageError(
        f"pytest took the value of `{flag} {value}` for a test path when it chose its rootdir; "
        f"write {flag}={value}"
    )


def _moves_rootdir(invocation_dir: Path, value: str) -> bool:
    """Whether pytest, taking ``value`` for a test path, may root the run elsewhere: an existing path
    outside the directory it was started in (inside it, the same ini file is found above it)."""
    path = invocation_dir / value
    if not path.exists():
        return False
    return not path.resolve().is_relative_to(invocation_dir)
