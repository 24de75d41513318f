"""Debian's bpftrace tools (/usr/sbin/*.bt) that run here by hand also finish under the IDE.

Each tool that runs by hand (kprobes are absent on many kernels, some tools need arguments
or kernel headers) runs three times at a 0.2 s interval under a syscall load; tools the
server's policy refuses (file reads as root, for one) are skipped with the refusal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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

TOOLS = sorted(Path("/usr/sbin").glob("*.bt"))
RUNS = 3
DURATION = 5.0
INTERVAL = 0.2


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[Outcome] | str]]:
    """{tool: its runs, or why it does not run here by hand}, all made in one batch."""
    tmp = tmp_path_factory.mktemp("tools")
    scripts = {t.name: t.read_text() for t in TOOLS}
    with syscall_load(tmp, seconds=len(TOOLS) * 5 + 120):
        unable = fails_by_hand_all(scripts)
        jobs = [
            Job(f"{name}#{n}", text, DURATION, INTERVAL)
            for name, text in scripts.items()
            if unable[name] is None
            for n in range(RUNS)
        ]
        server = start_server(tmp, env={"DTRACE_IDE_MAX_RUNS_PER_CLIENT": "8"})
        try:
            results = run_batch(server, jobs, concurrency=8)
        finally:
            stop_server(server)
    found: dict[str, list[Outcome] | str] = {}
    for name in scripts:
        reason = unable[name]
        runs = [o for o in results if o.job.label.startswith(name + "#")]
        found[name] = runs if reason is None else f"{name} does not run here by hand: {reason}"
    yield found


@pytest.mark.timeout(600)
@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
def test_a_tool_that_runs_by_hand_finishes_under_the_ide_every_time(
    outcomes: dict[str, list[Outcome] | str], tool: Path
) -> None:
    runs = outcomes[tool.name]
    if isinstance(runs, str):
        pytest.skip(runs)
    policy = [
        o.refused["error"]["message"]
        for o in runs
        if o.refused and o.refused.get("error", {}).get("code") == "script_refused"
    ]
    # A refusal for taking too long to parse is no policy: the tool ran by hand.
    if policy and not any("took too long" in m for m in policy):
        pytest.skip(f"the server's policy refuses {tool.name}: {policy[0]}")
    assert len(runs) == RUNS
    failed = [o.describe() for o in runs if o.failed]
    assert failed == [], f"{len(failed)} of {RUNS} runs failed"
