"""Keeping write keys secret: every text the suite emits passes through a Redactor.

A key is replaced by the name of the environment variable the user keeps it in, so that a reproduction
(``curl`` line) works as printed once the variable is set: ``$POSTBACK_WRITE_KEY``.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import quote, quote_plus

MIN_SECRET_LENGTH = 4  # shorter strings would redact ordinary text; keys are far longer


class Redactor:
    """Replaces every registered secret (plain and URL-encoded) with its placeholder.

    Learning a secret costs O(1) (a dict insert); the longest-first order that replacing needs is made
    once after a change, when text is next redacted, not at every ``add``."""

    def __init__(self) -> None:
        self._forms: dict[str, str] = {}  # form -> placeholder, in the order learnt
        self._ordered: list[tuple[str, str]] | None = []
        self._lock = threading.Lock()

    def add(self, secret: str, env_var: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            return
        placeholder = f"${env_var}"
        with self._lock:
            for form in (secret, quote(secret, safe=""), quote_plus(secret), quote(secret)):
                if form not in self._forms:
                    self._forms[form] = placeholder
                    self._ordered = None

    @property
    def _pairs(self) -> list[tuple[str, str]]:
        ordered = self._ordered
        if ordered is None:
            with self._lock:
                # Longest first, so a URL-encoded form is not half-replaced by a shorter one.
                ordered = sorted(self._forms.items(), key=lambda pair: len(pair[0]), reverse=True)
                self._ordered = ordered
        return ordered

    @property
    def secrets(self) -> list[str]:
        return [form for form, _ in self._pairs]

    def __call__(self, text: str) -> str:
        for form, placeholder in self._pairs:
            if form in text:
                text = text.replace(form, placeholder)
        return text

    def bytes(self, data: bytes) -> bytes:
        for form, placeholder in self._pairs:
            raw = form.encode()
            if raw in data:
                data = data.replace(raw, placeholder.encode())
        return data


class RedactingFilter(logging.Filter):
    """Redacts log records of the HTTP libraries (httpx logs every URL at INFO, query keys included)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor(record.getMessage())
        record.args = None
        return True


def install_log_redaction(redactor: Redactor) -> None:
    for name in ("httpx", "httpcore", "hpack", "uvicorn", "uvicorn.error", "schemathesis"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter(redactor))
