"""Run profiles: the expectations the docs leave open, and the run's budgets.

A profile is a TOML file (``--conformance-profile``). Every value that differs from the defaults is an
override and is printed in every report.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

BUDGETS = {"quick": 25, "ci": 100, "thorough": 500}


class ProfileError(ValueError):
    """A profile file that cannot be used; the message says why."""


@dataclass(frozen=True)
class Profile:
    name_min: int = 1
    name_max: int = 128
    clock_tolerance: int = 300  # seconds, BODY-02
    extra_statuses: frozenset[int] = field(default_factory=frozenset)
    budget: str = "quick"  # how many examples property tests and schemathesis generate

    @property
    def examples(self) -> int:
        return BUDGETS[self.budget]

    def overrides(self) -> dict[str, Any]:
        """The values that differ from the defaults, as plain JSON data."""
        default = Profile()
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(default, f.name):
                out[f.name] = sorted(value) if isinstance(value, frozenset) else value
        return out


def load_profile(path: Path | None) -> Profile:
    if path is None:
        return Profile()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {path} is not valid TOML: {exc}") from None
    known = {f.name for f in fields(Profile)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ProfileError(
            f"profile {path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    profile = Profile()
    try:
        for key, value in raw.items():
            if key == "extra_statuses":
                value = frozenset(int(v) for v in value)
            elif key == "budget" and value not in BUDGETS:
                raise ProfileError(f"profile {path}: budget must be one of {', '.join(BUDGETS)}")
            elif key != "budget" and not isinstance(value, int):
                raise ProfileError(f"profile {path}: {key} must be an integer")
            profile = replace(profile, **{key: value})
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ProfileError):
            raise
        raise ProfileError(f"profile {path}: {exc}") from None
    if not 1 <= profile.name_min <= profile.name_max:
        raise ProfileError(f"profile {path}: need 1 <= name_min <= name_max")
    return profile
