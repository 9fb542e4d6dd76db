"""schemathesis against the served OpenAPI document of a live server.

Given a real server (with a uv project and a venv in its root) whose uv cannot reach any
package index (``UV_OFFLINE=1`` and the default index on a closed 127.0.0.1 port), when
schemathesis generates schema-valid (positive) and schema-violating (negative) requests for
every operation of ``GET uv-kernels/openapi.json`` (path parameters both generated and set
to the real environments' ids), then no answer is a 5xx, every status code, content type and
body matches the document, and every schema-violating request is refused with a 4xx.

Why no index: positive cases for POST environments and POST .../packages carry arbitrary
valid requirement names ("0", "a-b"...). They all run, for real, but uv resolves offline and
fails fast, so the fuzzer never installs anything from PyPI; a failed operation is an
ordinary answer (202, then state "failed"), not a server error.

Authentication is not fuzzed here: schemathesis reads the served document with its
``security`` emptied and every case carries the valid token header. Otherwise it generates a
random ``?token=`` (the document's query alternative) or a mangled header for about a third
of the cases, which the server rightly refuses with 403 before any route code runs. Wrong
and missing tokens are covered by ``test_hostile_input.py`` and the JupyterHub test.

Left out on purpose: ``positive_data_acceptance`` (a generated environment id is a valid
string that names no environment, so 404 is right), and the stateful checks that need links
the document does not declare.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import make_project, make_venv
from tests.reliability.figures import record
from tests.reliability.live_server import closed_port, running_server

#: Generated cases per operation, mode and path-parameter choice; about 800 cases in all
#: (hypothesis stops early where there is nothing to vary, e.g. GET without parameters)..
EXAMPLES = 30
#: The whole run must end inside this many seconds.
TIME_LIMIT = 90.0

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def test_given_generated_requests_then_no_server_error_and_no_schema_violation(
    tmp_path: Path, uv_cache_dir: Path
) -> None:
    work = Path(os.path.realpath(tmp_path))
    root = work / "root"
    make_project(root / "proj", "six")
    make_venv(root / "venv", "ipykernel")
    offline = {
        "UV_OFFLINE": "1",
        "UV_DEFAULT_INDEX": f"http://127.0.0.1:{closed_port()}/simple",
    }
    with running_server(
        work / "srv",
        [root],
        uv_cache=uv_cache_dir,
        env=offline,
        uv_kernels={"operation_timeout": 60.0},
    ) as server:
        listing = server.wait_scanned()
        ids = [e["id"] for e in listing["environments"]]
        assert len(ids) == 2, listing
        auth = {"Authorization": f"token {server.token}"}
        document = server.get_json("uv-kernels/openapi.json")
        document["security"] = []
        schema = schemathesis.openapi.from_dict(document)
        # A schema-violating body can also be too large (100 long package strings): that is
        # refused with 413 before its shape is read, as the document says for every route
        # with a body. It is a rejection like 400, so it counts as one.
        rejection = schema.config.checks.negative_data_rejection
        rejection.expected_statuses = [*rejection.expected_statuses, "413"]
        base_url = server.url("uv-kernels")

        cases: Counter[str] = Counter()
        statuses: Counter[int] = Counter()
        failures: dict[str, str] = {}
        started = time.monotonic()

        def exercise(strategy: Any, label: str) -> None:
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: collect, don't stop
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case: Any) -> None:
                cases[label] += 1
                response = case.call(base_url=base_url, headers=auth, timeout=30)
                statuses[response.status_code] += 1
                try:
                    case.validate_response(response, checks=CHECKS, headers=auth)
                except FailureGroup as group:
                    key = f"{label} -> {response.status_code}"
                    failures.setdefault(key, str(group)[:1500])

            # Unsatisfiable: nothing to make invalid (a GET without parameters, negative mode).
            with contextlib.suppress(Unsatisfiable):
                run()

        for result in schema.get_all_operations():
            operation = result.ok()
            label = f"{operation.method.upper()} {operation.path}"
            params = [p.name for p in operation.path_parameters]
            choices: list[dict[str, Any] | None] = [None]
            if "env_id" in params:
                choices += [{"env_id": env_id} for env_id in ids]
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                for fixed in choices:
                    strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
                    exercise(strategy, f"{label} [{mode.value}{' real id' if fixed else ''}]")
        elapsed = time.monotonic() - started
        assert server.alive() and server.get_json("api/status")

    total = sum(cases.values())
    server_errors = sum(n for s, n in statuses.items() if s >= 500)
    record(
        "schemathesis",
        cases=total,
        operations=len({k.split(" [")[0] for k in cases}),
        server_errors=server_errors,
        schema_violations=len(failures),
        seconds=round(elapsed, 1),
        statuses=dict(sorted(statuses.items())),
    )
    print(f"schemathesis: {total} cases in {elapsed:.1f} s, {dict(sorted(statuses.items()))}")
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in sorted(failures.items())[:10])
    assert server_errors == 0
    assert total >= 500, cases
    assert elapsed <= TIME_LIMIT
