"""Fuzz /api/compile and /api/runs with many more examples than the test suite runs.

Uses the same hypothesis strategies as tests/integration/test_bad_input.py.  By default the
backends are fakes (the API's validation is the target); ``--real`` sends every body that
passes validation to the real bpftrace (slow: one compile per example).  Prints how many
requests got each status and the bodies of any 5xx.

    .venv/bin/python bench/fuzz_api.py --examples 20000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ide.web.state import state_of

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ide import create_app
from tests.integration.test_bad_input import FakeBackend, bodies, encode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--examples", type=int, default=10_000, help="per strategy (JSON bodies, raw bytes)"
    )
    parser.add_argument("--real", action="store_true", help="use the real bpftrace backend")
    args = parser.parse_args()

    app = create_app({"token": "fuzz", "data_dir": tempfile.mkdtemp(), "backend": "bpftrace"})
    if not args.real:
        state_of(app).backends.by_language = {
            "d": FakeBackend("d"),
            "bpftrace": FakeBackend("bpftrace"),
        }
    runs = state_of(app).runs
    client = app.test_client()
    statuses: Counter[tuple[str, int]] = Counter()
    failures: list[str] = []
    headers = {"Authorization": "Bearer fuzz", "Content-Type": "application/json"}

    def send(path: str, data: bytes) -> None:
        resp = client.post(path, data=data, headers=headers)
        statuses[(path, resp.status_code)] += 1
        unavailable = (
            resp.status_code == 503
            and (resp.get_json() or {}).get("error", {}).get("code") == "backend_unavailable"
        )  # a language with no backend here: expected, not a fault
        if unavailable:
            statuses[(path, -503)] += 1
        elif resp.status_code >= 500 and len(failures) < 20:
            failures.append(f"{path} {resp.status_code}: {data[:300]!r}")
        if resp.status_code == 201:
            run = runs.get(resp.get_json()["id"])
            if run is not None:
                runs.stop(run, "user")

    budget = settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )

    @budget
    @given(body=bodies, path=st.sampled_from(["/api/compile", "/api/runs"]))
    def structured(body: dict[str, Any], path: str) -> None:
        send(path, encode(body))

    @budget
    @given(data=st.binary(max_size=400), path=st.sampled_from(["/api/compile", "/api/runs"]))
    def raw(data: bytes, path: str) -> None:
        send(path, data)

    t0 = time.monotonic()
    structured()
    raw()
    took = time.monotonic() - t0
    total = sum(statuses.values())
    print(f"requests: {total} in {took:.1f} s ({total / took:.0f}/s), real backend: {args.real}")
    for (path, status), n in sorted(
        statuses.items(), key=lambda kv: (kv[0][0], abs(kv[0][1]), kv[0][1] < 0)
    ):
        if status == -503:
            print(f"  {path:<14} of which 503 backend_unavailable: {n}")
        else:
            print(f"  {path:<14} {status}: {n}")
    unavailable = sum(n for (_, status), n in statuses.items() if status == -503)
    fives = sum(n for (_, status), n in statuses.items() if status >= 500) - unavailable
    print(f"5xx answers other than 503 backend_unavailable: {fives}")
    for f in failures:
        print("  " + f)
    runs.shutdown()
    return 1 if fives else 0


if __name__ == "__main__":
    sys.exit(main())
