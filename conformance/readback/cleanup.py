"""``postback-conformance cleanup --run-id ID``: what deletes one run's probe records.

Every record the suite sends carries ``conformance_id`` = ``<run ID>-<counter>``, and the valid key only
ever writes to ``--database``, into ``--table`` and the ``<table>_<suffix>`` tables of
:func:`conformance.transport.client.probe_tables`, or to forbidden table names there (NAME-02: a conforming
target refuses them; a faulty one's stray tables are listed in results.json ``records_by_table``). Allowed
generated names get an unknown key, so there are no generated tables to drop. The command prints one Trino
``DELETE`` per table and the columns a run may have added (conformance/contract/fields.py: a column cannot
be dropped by a DELETE); with ``--yes`` it runs the deletes on Treasure Data through td-client (API key
from ``POSTBACK_TD_API_KEY`` only, like read-back).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence

from conformance.contract.fields import PROBE_FIELDS
from conformance.contract.model import is_valid_name
from conformance.transport.client import probe_tables

API_KEY_ENV = "POSTBACK_TD_API_KEY"
ENDPOINT_ENV = "POSTBACK_TD_ENDPOINT"
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
JOB_TIMEOUT = 600.0


def like_prefix(run_id: str) -> str:
    """A LIKE pattern matching ``<run_id>-...`` only: "_" and "%" escaped (SQL LIKE ... ESCAPE '\\')."""
    escaped = run_id.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return f"{escaped}-%"


def statements(run_id: str, database: str, table: str) -> list[str]:
    """One Trino DELETE per probe table, each removing the run's records only."""
    pattern = like_prefix(run_id)
    return [
        f"DELETE FROM \"{database}\".\"{name}\" WHERE conformance_id LIKE '{pattern}' ESCAPE '\\'"
        for name in probe_tables(table)
    ]


def run_statements(database: str, sql: Sequence[str], endpoint: str | None) -> list[str]:
    """Run each statement as a Trino job through td-client; one line per job. Raises RuntimeError."""
    import tdclient

    apikey = os.environ.get(API_KEY_ENV)
    if not apikey:
        raise RuntimeError(f"--yes needs a Treasure Data API key with write access in {API_KEY_ENV}")
    kwargs = {"endpoint": endpoint} if endpoint else {}
    lines = []
    with tdclient.Client(apikey=apikey, **kwargs) as client:
        for statement in sql:
            job = client.query(database, statement, type="trino")
            job.wait(timeout=JOB_TIMEOUT, wait_interval=1)
            if not job.success():
                raise RuntimeError(f"job {job.job_id} ended {job.status()}: {statement}")
            lines.append(f"job {job.job_id}: success: {statement}")
    return lines


def main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="postback-conformance cleanup",
        description="Print (--yes: run on Treasure Data) what deletes one run's probe records.",
    )
    parser.add_argument("--run-id", required=True, help="the run ID (results.json run_id, report header)")
    parser.add_argument("--database", default=os.environ.get("POSTBACK_DATABASE") or "conformance")
    parser.add_argument("--table", default=os.environ.get("POSTBACK_TABLE") or "probe")
    parser.add_argument(
        "--endpoint",
        default=os.environ.get(ENDPOINT_ENV),
        help=f"Treasure Data API endpoint for --yes (default: td-client's; env {ENDPOINT_ENV})",
    )
    parser.add_argument("--yes", action="store_true", help=f"run the statements (API key in {API_KEY_ENV})")
    options = parser.parse_args(args)
    if not RUN_ID.fullmatch(options.run_id):
        parser.error(f"--run-id must be letters, digits, - or _, got {options.run_id!r}")
    for flag, name in (("--database", options.database), ("--table", options.table)):
        if not is_valid_name(name):
            parser.error(f"{flag} must be a name of ASCII letters, digits and _, got {name!r}")
    sql = statements(options.run_id, options.database, options.table)
    print(f"-- probe records of run {options.run_id} in database {options.database} (Trino)")
    print("-- the valid key went to these tables, and to forbidden table names (NAME-02), which a conforming")
    print("-- target refuses: results.json records_by_table lists every table a run wrote to")
    for statement in sql:
        print(statement + ";")
    count = len(PROBE_FIELDS)
    print(f"-- columns a run may have added to these tables ({count}, each a documented probe field):")
    print("-- " + ", ".join(PROBE_FIELDS))
    if not options.yes:
        print("-- run them with --yes (needs POSTBACK_TD_API_KEY), or in the TD console")
        return 0
    try:
        for line in run_statements(options.database, sql, options.endpoint):
            print(line)
    except Exception as exc:  # td-client raises many kinds; one clear line, never the key
        key = os.environ.get(API_KEY_ENV) or ""
        text = str(exc).replace(key, f"${API_KEY_ENV}") if key else str(exc)
        print(f"cleanup failed: {text}", file=sys.stderr)
        return 1
    return 0
