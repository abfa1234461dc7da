"""``postback-conformance``: run the packaged suite through pytest, or one of the tool commands.

postback-conformance [pytest and suite options]        certify a target (see --help)
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


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "audit":
        from conformance.cutover.audit import main as audit_main

        return audit_main(args[1:])
    if args and args[0] == "replay":
        from conformance.replay import main as replay_main

        return replay_main(args[1:])
    if args and args[0] == "export-spec":
        return export_spec(args[1:])
    if args and args[0] == "cleanup":
        from conformance.cleanup import main as cleanup_main

        return cleanup_main(args[1:])
    return run_suite(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
