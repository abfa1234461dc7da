"""Cutover mutants: a v2 target that is fine alone but differs from legacy where it must not."""

from __future__ import annotations

from conformance.reference.app import PostbackApp, Rejection
from tests.mutants.base import mutant


@mutant(
    "v2-rejects-long-names",
    "a v2 that answers 400 for names over 128 characters, which legacy accepts "
    "(NAME-01 only covers 1..128, so it passes alone)",
    ("cutover",),
    ("CUT-01",),
    ("test_cutover.py",),
)
class RejectsLongNames(PostbackApp):
    def check_name(self, segment: bytes) -> str:
        name = super().check_name(segment)
        if len(name) > 128:
            raise Rejection(400, "name too long")
        return name


@mutant(
    "v2-rejects-upper-case-names",
    "a v2 that answers 400 for names with an upper-case letter, which legacy (and the docs) accept",
    ("cutover",),
    ("CUT-01", "NAME-01"),
    ("test_cutover.py", "test_names.py"),
)
class RejectsUpperCaseNames(PostbackApp):
    def check_name(self, segment: bytes) -> str:
        name = super().check_name(segment)
        if name != name.lower():
            raise Rejection(400, "names must be lower case")
        return name
