"""``postback-reference``: serve one reference Postback target (legacy or v2) plus its read-back."""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import signal
import sys
import threading
from types import FrameType

from conformance.reference.server import ReferenceServer

KEY_ENV = "POSTBACK_WRITE_KEY"
TD_KEY_ENV = "POSTBACK_TD_API_KEY"


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="postback-reference",
        description="Serve a reference Postback target on loopback, storing records in SQLite, with the "
        "read-back service (protocol v1) under /_readback. Stop it with Ctrl-C.",
    )
    parser.add_argument("--api-version", required=True, choices=("legacy", "v2"), help="the endpoint version")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=0, help="port to listen on (default 0: a free port)")
    parser.add_argument(
        "--write-key",
        action="append",
        default=[],
        metavar="KEY",
        help=f"a valid write key (repeatable; also read from ${KEY_ENV}). None: one is generated",
    )
    parser.add_argument("--key-file", metavar="FILE", help="write a generated key to FILE (mode 0600)")
    parser.add_argument("--store", metavar="FILE", help="SQLite file for the records (default: in memory)")
    parser.add_argument(
        "--lag", type=float, default=0.0, metavar="SECONDS", help="records become readable after this delay"
    )
    parser.add_argument(
        "--td-api-key",
        action="append",
        default=[],
        metavar="KEY",
        help=f"also serve the Treasure Data job API emulation under /v3/job/ (for --readback=td:URL), "
        f"accepting this API key (repeatable; also read from ${TD_KEY_ENV})",
    )
    parser.add_argument(
        "--td-fail-jobs", action="store_true", help="every query job of the TD API emulation ends in error"
    )
    parser.add_argument("--allow-remote", action="store_true", help="allow a --host outside loopback")
    return parser


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def generate_key() -> str:
    """A key of the well-formed shape ``1/`` + 40 hex digits."""
    return "1/" + secrets.token_hex(20)


def write_key_file(path: str, key: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed by argparse
        return exit_.code if isinstance(exit_.code, int) else 2
    if not is_loopback(args.host) and not args.allow_remote:
        print(
            f"postback-reference: refusing --host {args.host}: not loopback (add --allow-remote)",
            file=sys.stderr,
        )
        return 2
    if args.lag < 0:
        print("postback-reference: --lag must be >= 0", file=sys.stderr)
        return 2
    keys: list[str] = list(args.write_key)
    if os.environ.get(KEY_ENV):
        keys.append(os.environ[KEY_ENV])
    if not keys:
        key = generate_key()
        keys.append(key)
        # Never print a key in full (docs/requirements.md, "Secrecy").
        where = f"written to {args.key_file}" if args.key_file else "pass --key-file FILE to get it"
        if args.key_file:
            write_key_file(args.key_file, key)
        print(f"postback-reference: no write key given; generated {key[:4]}… ({where})", flush=True)

    stop = threading.Event()

    def on_terminate(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # SIGTERM ends the run like Ctrl-C (signal handlers can only be set from the main thread).
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_terminate) if in_main else None
    try:
        td_keys: list[str] = list(args.td_api_key)
        if os.environ.get(TD_KEY_ENV) and (td_keys or args.td_fail_jobs):
            td_keys.append(os.environ[TD_KEY_ENV])
        server = ReferenceServer(
            args.api_version,
            keys,
            args.host,
            args.port,
            args.store,
            args.lag,
            td_api_keys=td_keys,
            td_fail_jobs=args.td_fail_jobs,
        )
        with server:
            version = args.api_version
            print(
                f"postback-reference ({version}) on {server.url} read-back {server.readback_url}", flush=True
            )
            if td_keys:
                print(f"postback-reference: TD job API emulation: --readback=td:{server.url}", flush=True)
            while not stop.wait(0.2):
                pass
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print(
            f"postback-reference: cannot listen on {args.host}:{args.port}: {error.strerror or error}",
            file=sys.stderr,
        )
        return 1
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
