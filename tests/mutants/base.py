"""The mutant record and a helper to derive a faulty app from the reference app by overriding one hook."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conformance.reference.app import PostbackApp

AppClass = type[PostbackApp]


@dataclass(frozen=True)
class Mutant:
    """A faulty target: served as each of ``versions``; the suite must report ``breaks`` as failing.

    The version ``"cutover"`` means: served as the v2 side of a comparison with a correct legacy target.

    ``breaks`` lists the clause IDs the mutant violates (MUST clauses must come out ``fail``, SHOULD
    clauses ``warn``); every other clause must not fail (no collateral false alarm). ``app`` is a
    subclass of the reference app. ``select`` optionally narrows the suite run (a ``-k``/``-m``-free
    list of test module paths) for quick area self-tests; the full mutant run ignores it.
    """

    name: str
    description: str
    versions: tuple[str, ...]
    breaks: tuple[str, ...]
    app: AppClass
    modules: tuple[str, ...] = ()
    tls: bool = False  # serve over https (EP-04 is only checked there)


def mutant(
    name: str,
    description: str,
    versions: tuple[str, ...],
    breaks: tuple[str, ...],
    modules: tuple[str, ...] = (),
    tls: bool = False,
) -> Callable[[AppClass], Mutant]:
    """Class decorator: ``@mutant(...) class NameIsalnum(PostbackApp): ...`` becomes a :class:`Mutant`."""

    def wrap(cls: AppClass) -> Mutant:
        return Mutant(name, description, versions, breaks, cls, modules, tls)

    return wrap
