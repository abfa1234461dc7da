"""``postback-conformance``: run the packaged suite through pytest, or one of the tool commands.

postback-conformance [pytest and suite options]        certify a target (see --help; --version)
postback-conformance audit FILE [--format F] [--json OUT] will recorded client traffic survive cutover?
postback-conformance replay traffic.har --target URL   send recorded requests again, compare the answers
postback-conformance export-spec {legacy,v2} [-o FILE] the per-version OpenAPI view (schemathesis CLI)
postback-conformance cleanup --run-id ID [--yes]       delete one run's probe records (Treasure Data)
"""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
COMMANDS = ("audit", "export-spec", "replay", "cleanup")


def run_suite(args: list[str]) -> int:
    import pytest

    return int(
        pytest.main(
            [
                str(PACKAGE_DIR),
                "-c",
                str(PACKAGE_DIR / "suite.ini"),
                "--rootdir",
                str(PACKAGE_DIR.parent),
                *args,
            ]
        )
    )


def export_spec(args: list[str]) -> int:
    import argparse

    from conformance.contract.spec import dump_view, version_view

    parser = argparse.ArgumentParser(
        prog="postback-conformance export-spec", description="Write the OpenAPI view of one endpoint version."
    )
    parser.add_argument("version", choices=("legacy", "v2"))
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    options = parser.parse_args(args)
    if options.output:
        dump_view(options.version, options.output)
        print(f"wrote the {options.version} view of specs/openapi.yaml to {options.output}")
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(version_view(options.version), sort_keys=False, allow_unicode=True))
    return 0


COMMAND_LINES = (
    ("audit FILE...", "will recorded client traffic keep working on v2? (HAR, JSON lines, access logs)"),
    ("replay traffic.har --target URL", "send recorded requests again, compare the answers"),
    ("export-spec {legacy,v2} [-o FILE]", "the per-version OpenAPI view (for the schemathesis CLI)"),
    ("cleanup --run-id ID [--yes]", "delete one run's probe records on Treasure Data"),
)


def version_lines() -> list[str]:
    """``postback-conformance 0.1.0 (spec 1.0.0, 44 clauses)`` and pytest's version."""
    import pytest

    from conformance import __version__
    from conformance.contract.catalog import catalog
    from conformance.contract.spec import load_spec

    spec = load_spec().get("info", {}).get("version", "?")
    return [
        f"postback-conformance {__version__} (spec {spec}, {len(catalog())} clauses)",
        f"pytest {pytest.__version__}",
    ]


def help_text() -> str:
    """The suite's own help: what it does, usage, the options by group (from the one option table),
    examples, exit statuses. pytest's options: --help-pytest."""
    from conformance.engine.options import GROUPS, OPTIONS

    lines = [
        "usage: postback-conformance [options] [pytest options]     certify a Postback endpoint",
        "       postback-conformance COMMAND [--help]",
        "",
        "Runs the conformance suite against a target (none: the embedded reference targets) and writes",
        "report.html, results.json, junit.xml, traffic.har and summary.md. Options also come from the",
        "environment variable each names in docs/options.md (the option wins).",
        "",
        "commands:",
        *(f"  {usage:34} {what}" for usage, what in COMMAND_LINES),
    ]
    for group, title in GROUPS.items():
        lines += ["", f"{title.lower()}:"]
        for option in (o for o in OPTIONS if o.group == group):
            flag = f"{option.flag} {option.metavar}".strip()
            lines.append(f"  {flag:28} {option.summary}")
        if group == "verdict":  # pytest's own flag, which the suite reads
            lines.append(f"  {'--strict':28} SHOULD failures fail the run too (pytest's flag; exit 1)")
    lines += [
        "",
        "examples:",
        "  POSTBACK_WRITE_KEY=... postback-conformance --target=https://us01.records.in.treasuredata.com \\",
        "      --database=my_db --table=probe --readback=td --settle=300 --require-complete",
        "  postback-conformance audit access.log.gz --api-version legacy",
        "",
        "exit status: 0 no MUST clause failed; 1 a MUST clause failed (SHOULD with --strict, undecided with",
        "--require-complete); 4 a wrong option, an unreachable target or a failed preflight.",
        "pytest's own options: postback-conformance --help-pytest (or pytest --help).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "audit":
        from conformance.cutover.audit import main as audit_main

        return audit_main(args[1:])
    if args and args[0] == "replay":
        from conformance.cutover.replay import main as replay_main

        return replay_main(args[1:])
    if args and args[0] == "export-spec":
        return export_spec(args[1:])
    if args and args[0] == "cleanup":
        from conformance.readback.cleanup import main as cleanup_main

        return cleanup_main(args[1:])
    if args in (["--version"], ["-V"]):
        print("\n".join(version_lines()))
        return 0
    if args in (["--help"], ["-h"]):
        print(help_text(), end="")
        return 0
    if "--help-pytest" in args:
        return run_suite(["--help" if a == "--help-pytest" else a for a in args])
    # A mistyped suite option (--targt) is named with the nearest one by the plugin, once pytest knows
    # every plugin's options (conformance/plugin/options.py, refuse_mistyped_options): exit status 4.
    return run_suite(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
