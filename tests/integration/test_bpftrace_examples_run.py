"""Every shipped bpftrace example runs 10 s at a 0.2 s interval under load without failing.

Examples that cannot run on this machine by hand (kprobes absent, a missing binary for a
uprobe) are skipped with bpftrace's own reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ide import examples
from ide.examples import Example
from tests.conftest import start_server, stop_server, tracer_ready
from tests.integration.tracer_load import (
    Job,
    Outcome,
    fails_by_hand_all,
    run_batch,
    syscall_load,
)

pytestmark = [
    pytest.mark.tracer,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]

BPFTRACE = [e for e in examples.all_examples() if e.language == "bpftrace"]
DURATION = 10.0
# Seen in CI, not reproduced by hand (32 runs of 8 at once): bpftrace 0.17 ends a
# profile:hz ustack run cleanly (exit 0, no error, no output) after ~7 s under this load.
ENDS_EARLY_UNDER_LOAD = {
    "bpftrace/profile_user_stacks": "bpftrace 0.17 ended this run by itself before its duration"
}
INTERVAL = 0.2


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome | str]]:
    """{example id: its run, or why it does not run here by hand}, all made in one batch."""
    tmp = tmp_path_factory.mktemp("examples")
    with syscall_load(tmp, seconds=len(BPFTRACE) * 3 + 120):
        unable = fails_by_hand_all({e.id: e.script for e in BPFTRACE})
        jobs = [Job(e.id, e.script, DURATION, INTERVAL) for e in BPFTRACE if unable[e.id] is None]
        server = start_server(tmp, env={"DTRACE_IDE_MAX_RUNS_PER_CLIENT": "8"})
        try:
            results = {o.job.label: o for o in run_batch(server, jobs, concurrency=8)}
        finally:
            stop_server(server)
    found: dict[str, Outcome | str] = {}
    for e in BPFTRACE:
        reason = unable[e.id]
        found[e.id] = (
            results[e.id] if reason is None else f"{e.id} does not run here by hand: {reason}"
        )
    yield found


@pytest.mark.timeout(600)
@pytest.mark.parametrize("example", BPFTRACE, ids=lambda e: e.id)
def test_every_bpftrace_example_runs_under_load_without_failing(
    outcomes: dict[str, Outcome | str], example: Example
) -> None:
    outcome = outcomes[example.id]
    if isinstance(outcome, str):
        pytest.skip(outcome)
    assert not outcome.failed, outcome.describe()
    early = outcome.body["elapsed"] < DURATION - 0.5
    if early and example.id in ENDS_EARLY_UNDER_LOAD and not outcome.body.get("error"):
        pytest.xfail(f"{ENDS_EARLY_UNDER_LOAD[example.id]}: {outcome.describe()}")
    assert not early, outcome.describe()
