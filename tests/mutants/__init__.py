"""Faulty targets ("mutants"): each breaks exactly one clause the way real implementations do.

Each area module (``auth.py``, ``names.py``, ...) defines mutants with the ``@mutant(...)`` class decorator;
every module-level :class:`Mutant` is collected.
They live with the self-tests, never in the shipped suite or the reference target.
"""

from __future__ import annotations

import importlib
import pkgutil

from tests.mutants.base import Mutant


def all_mutants() -> list[Mutant]:
    mutants: list[Mutant] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        mutants.extend(value for value in vars(module).values() if isinstance(value, Mutant))
    names = [m.name for m in mutants]
    duplicated = {n for n in names if names.count(n) > 1}
    if duplicated:
        raise ValueError(f"duplicate mutant names: {sorted(duplicated)}")
    return mutants
