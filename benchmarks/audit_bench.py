"""The cutover audit on production-sized traffic: a million requests as an access log, JSON lines and HAR.

    python benchmarks/audit_bench.py [--requests 1000000] [--formats access-log,jsonl,har,har-pretty]
                                      [--keep DIR]

Writes synthetic traffic (40 tables, 300 User-Agent strings of a dozen clients, 30 % query keys of their
own, 2 % bearer tokens of their own, one garbage line in a thousand), audits each file with
``postback-conformance audit`` in a subprocess, and prints the wall time and the peak memory of each run
(the children's maximum resident set size). Goal: 1,000,000 access-log lines in at most 5 s and 200 MB on
two cores. By hand, not in CI.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HOST = "https://in.treasuredata.com"
AGENTS = [
    *(f"Mozilla/5.0 (Linux; Android {v}) AppleWebKit/537.36 Chrome/{c}.0 Mobile Safari/537.36"
      for v in range(8, 15) for c in range(100, 130)),
    *(f"Mozilla/5.0 (Windows NT 10.0; rv:{v}.0) Gecko/20100101 Firefox/{v}.0" for v in range(100, 150)),
    "curl/8.5.0", "python-requests/2.31.0", "okhttp/4.12.0", "Go-http-client/1.1", "shop-app/3.2",
]  # fmt: skip


def _request(rng: random.Random) -> tuple[str, str, dict[str, str], str]:
    table = f"db{rng.randrange(5)}/t{rng.randrange(8)}"
    token = "".join(rng.choice("0123456789abcdef") for _ in range(40))
    roll = rng.random()
    headers = {"Content-Type": "application/json", "User-Agent": rng.choice(AGENTS)}
    path = f"/postback/v3/event/{table}"
    if roll < 0.30:
        path += f"?td_write_key=1%2F{token}"
    elif roll < 0.32:
        headers["Authorization"] = f"Bearer {token}"
        headers["X-TD-Write-Key"] = f"1/{token}"
    else:
        headers["X-TD-Write-Key"] = f"1/{token}"
    method = "GET" if rng.random() < 0.05 else "POST"
    return method, path, headers, '{"event":"view","n":1}'


def write(kind: str, count: int, directory: Path, seed: int = 1) -> Path:
    rng = random.Random(seed)
    names = {
        "access-log": "access.log",
        "jsonl": "traffic.jsonl",
        "har": "traffic.har",
        "har-pretty": "pretty.har",
    }
    path = directory / names[kind]
    with path.open("w", encoding="utf-8") as out:
        if kind.startswith("har"):
            out.write('{"log": {"version": "1.2", "creator": {"name": "bench"}, "entries": [\n')
        for n in range(count):
            method, target, headers, body = _request(rng)
            stamp = f"07/Dec/2026:13:{n // 60 % 60:02d}:{n % 60:02d} +0000"
            if kind == "access-log":
                if n % 1000 == 999:
                    out.write("garbage line\n")
                    continue
                agent = headers["User-Agent"]
                client = f"10.0.{n % 256}.{n % 200}"
                out.write(f'{client} - - [{stamp}] "{method} {target} HTTP/1.1" 200 2 "-" "{agent}"\n')
                continue
            entry: dict[str, Any] = {
                "startedDateTime": f"2026-12-07T13:{n // 60 % 60:02d}:{n % 60:02d}Z",
                "request": {
                    "method": method,
                    "url": HOST + target,
                    "httpVersion": "HTTP/1.1",
                    "headers": [{"name": k, "value": v} for k, v in headers.items()],
                    "bodySize": len(body),
                    "postData": {"mimeType": "application/json", "text": body},
                },
            }
            if kind == "jsonl":
                out.write(json.dumps(entry) + "\n")
            elif kind == "har-pretty":  # as a browser exports it: every value on a line of its own
                out.write(("," if n else "") + json.dumps(entry, indent=2) + "\n")
            else:
                out.write(("," if n else "") + json.dumps(entry) + "\n")
        if kind.startswith("har"):
            out.write("]}}\n")
    return path


MEASURED = (
    "import resource, sys\n"
    "from conformance.cutover.audit import main\n"
    "code = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def audit(path: Path) -> dict[str, Any]:
    """One audit in a process of its own: wall time, its own peak resident memory, what it wrote."""
    out = path.parent / f"{path.name}.audit.json"
    command = [sys.executable, "-c", MEASURED, str(path), "--json", str(out), "-q"]
    if path.name == "access.log":
        command += ["--api-version", "legacy"]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    lines = done.stderr.strip().splitlines()
    peak_kb = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    errors = [line for line in lines if line.startswith("error:")]
    return {
        "exit": done.returncode, "wall": wall, "peak_mb": peak_kb / 1024,
        "error": errors[0] if errors else "",
        "groups": len(json.loads(out.read_text())["groups"]) if out.exists() else 0,
        "bytes": path.stat().st_size, "json_bytes": out.stat().st_size if out.exists() else 0,
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--formats", default="access-log,jsonl,har,har-pretty")
    parser.add_argument("--keep", type=Path, help="write the traffic files here (and keep them)")
    options = parser.parse_args()
    directory = options.keep or Path(tempfile.mkdtemp(prefix="audit-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    head = f"{'input':12} {'requests':>10} {'MB':>7} {'wall s':>7} {'peak MB':>8} {'groups':>7}"
    print(f"{head} {'json KB':>8}  exit")
    for kind in options.formats.split(","):
        path = write(kind, options.requests, directory)
        row = audit(path)
        print(
            f"{kind:12} {options.requests:>10,} {row['bytes'] / 1e6:7.0f} {row['wall']:7.1f} "
            f"{row['peak_mb']:8.0f} {row['groups']:7,} {row['json_bytes'] / 1e3:8.0f}  "
            f"{row['exit']} {row['error']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
