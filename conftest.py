"""Repository root: the suite's plugin comes from the installed package (entry point ``pytest11``)."""

from __future__ import annotations

try:
    import conformance.plugin  # noqa: F401
except ImportError as exc:  # pragma: no cover - only without an install
    raise SystemExit(f"postback-conformance is not installed ({exc}); run: pip install -e '.[dev]'") from None
