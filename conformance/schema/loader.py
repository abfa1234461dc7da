"""Loading the per-version view of ``specs/openapi.yaml`` into schemathesis, and building its phase tests.

schemathesis is imported lazily (it takes about a second), so that a run without the schema layer never pays
for it. Everything generated is decided by the run's seed: the schemathesis config carries it, and every phase
test is seeded from it the way schemathesis' own runner does (``derive_operation_seed``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance.contract.catalog import Version
from conformance.contract.model import allowed_statuses
from conformance.contract.profile import Profile
from conformance.contract.spec import version_view

OPERATION_PATH = "/postback/v3/event/{database}/{table}"
OPERATION_METHOD = "POST"
# RESP-03 (RFC 9110 section 15.5.6): the other methods the contract speaks about. The coverage phase probes
# only these, so every probe has an expected answer (TRACE, QUERY and OPTIONS are outside the contract).
PROBED_METHODS = ("GET", "PUT", "PATCH", "DELETE")
PHASES = ("examples", "coverage", "fuzzing")
MODES = ("positive", "negative")


@dataclass(frozen=True)
class Generation:
    """One schemathesis generation run: a phase, and the generation mode(s) it draws from."""

    phase: str
    mode: str = "all"

    @property
    def label(self) -> str:
        return self.phase if self.mode == "all" else f"{self.phase}-{self.mode}"


def schema_view(version: Version, database: str, table: str) -> dict[str, Any]:
    """The version's view with the run's probe database and table as the names' examples.

    schemathesis fills every parameter it does not vary with its example, so requests that test the body
    reach the table accepted probe records belong in (docs/contract.md, ``--database``/``--table``), not
    ``test_db``.
    """
    view = version_view(version)
    names = {"database": database, "table": table}
    for parameter in view.get("components", {}).get("parameters", {}).values():
        if parameter.get("in") == "path" and parameter.get("name") in names:
            parameter["example"] = names[parameter["name"]]
    return view


def _config(version: Version, seed: int, examples: int, mode: str, extra_statuses: frozenset[int]) -> Any:
    from schemathesis.config import SchemathesisConfig

    rejections = sorted(allowed_statuses(version, Profile(extra_statuses=extra_statuses)) - {200})
    return SchemathesisConfig.from_dict(
        {
            "seed": seed,
            "suppress-health-check": ["all"],
            "generation": {
                "mode": mode,
                "max-examples": examples,
                "database": "none",
                # The suite adds the credential itself (a Cred, never a generated or visible key).
                "with-security-parameters": False,
            },
            "phases": {
                "coverage": {"unexpected-methods": list(PROBED_METHODS)},
                "stateful": {"enabled": False},
            },
            "checks": {
                # Tuned to the contract (docs/requirements.md RESP-01): a rejection is one of its statuses, an
                # acceptance is 200. The per-request oracle is still the contract model (judge.py).
                "negative_data_rejection": {"expected-statuses": [str(s) for s in rejections]},
                "positive_data_acceptance": {"expected-statuses": ["200"]},
                # Keys are validated after the answer ([V2] "API key validation", EP-05, AUTH-08/09): a bad
                # or missing key may be answered 200, so schemathesis' auth expectation does not hold.
                "ignored_auth": {"enabled": False},
                # RESP-03 allows 404 as well as 405, and no Allow header is required.
                "unsupported_method": {"enabled": False},
            },
        }
    )


def load_operation(
    version: Version, database: str, table: str, seed: int, profile: Profile, mode: str
) -> Any:
    """The schemathesis ``APIOperation`` of the endpoint in ``version``'s view, configured for this run.

    A fresh one for every phase run: schemathesis keeps generation state on an operation, so a second phase
    run on the same object would draw its cases in another order, and the same seed must give the same
    requests whatever tests a run selects.
    """
    import schemathesis

    config = _config(version, seed, profile.examples, mode, profile.extra_statuses)
    schema = schemathesis.openapi.from_dict(schema_view(version, database, table), config=config)
    return schema[OPERATION_PATH][OPERATION_METHOD]


def phase_test(operation: Any, phase: str, seed: int, run_case: Callable[[Any], None]) -> Callable[[], None]:
    """A callable running one schemathesis phase over ``operation``: ``run_case(case)`` for every case.

    Built as schemathesis' own runner builds it (one hypothesis test per phase, seeded from the run's seed),
    so the examples, coverage and fuzzing phases generate what ``st run`` would for the same view.
    """
    from schemathesis.generation import derive_operation_seed
    from schemathesis.generation.hypothesis.builder import (
        HypothesisTestConfig,
        HypothesisTestMode,
        create_test,
    )

    project = operation.schema.config
    test: Callable[[], None] = create_test(
        operation=operation,
        test_func=run_case,
        config=HypothesisTestConfig(
            project=project,
            modes=[HypothesisTestMode(phase)],
            settings=project.get_hypothesis_settings(
                operation=operation, phase=phase, apply_ci_profile=False
            ),
            explicit_setting_names=project.explicit_hypothesis_settings(operation=operation, phase=phase),
            apply_ci_profile=False,
            seed=derive_operation_seed(seed, operation.label),
        ),
    )
    return test
