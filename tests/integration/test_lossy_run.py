"""A run that prints on every system call loses events by the thousand: its snapshots still
arrive every interval (or the run says why they cannot), its output comes in a few merged
messages a second, and its problems come as one kind with a running total, a few messages a
second, not one message per loss."""

from __future__ import annotations

import json
import time
from collections import Counter
from itertools import pairwise

import pytest
import websocket

from ide.tracing.session import STARVED_GRACE_S, STARVED_INTERVALS
from ide.tracing.viewer import OUTPUT_PACE_S
from tests.conftest import LiveServer, tracer_ready

pytestmark = pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready()))

FLOOD = (
    "tracepoint:raw_syscalls:sys_enter "
    '{ printf("%s %d %d\\n", comm, pid, args->id); @n[comm] = count(); }'
)


def test_a_flooding_run_keeps_its_snapshots_and_sends_few_problem_messages(
    live_server: LiveServer,
) -> None:
    status, run = live_server.request(
        "POST", "/api/runs", {"language": "bpftrace", "script": FLOOD, "interval": 0.5}
    )
    assert status == 201, run
    ws = websocket.create_connection(
        live_server.base.replace("http", "ws", 1) + f"/api/runs/{run['id']}/stream",
        header=[f"Authorization: Bearer {live_server.token}"],
        origin=live_server.base,
        timeout=10,
    )
    kinds: Counter[str] = Counter()
    snapshots: list[float] = []
    errors: list[dict[str, object]] = []
    start = time.monotonic()
    try:
        while time.monotonic() - start < 8:
            msg = json.loads(ws.recv())
            kinds[msg["type"]] += 1
            if msg["type"] == "snapshot":
                snapshots.append(time.monotonic() - start)
            elif msg["type"] == "error":
                errors.append(msg)
    finally:
        ws.close()
        live_server.request("DELETE", f"/api/runs/{run['id']}")
    # The flood is read as fast as it comes, so snapshots keep coming (at 0.5 s here;
    # slower when the machine is loaded). bpftrace itself can lose its interval prints
    # when its own writes feed the flood: then the run says so, rather than going quiet.
    starved = [e for e in errors if "no snapshot for" in str(e["message"])]
    if not starved:
        assert snapshots and snapshots[0] < 4.0, (kinds, snapshots)
        assert len(snapshots) >= 3, snapshots
        # A gap past the starvation threshold (and the time to notice it) must have been said.
        threshold = STARVED_INTERVALS * 0.5 + STARVED_GRACE_S + 1.0
        assert max(b - a for a, b in pairwise(snapshots)) < threshold, snapshots
    # Output comes in merged messages a few times a second, not one per printed line (a
    # problem or snapshot sent between two outputs ends a merge, so each may add one).
    others = kinds["error"] + kinds["snapshot"] + kinds["state"]
    assert 0 < kinds["output"] <= 8 / OUTPUT_PACE_S + others + 5, kinds
    # Problems of one kind, a few a second (each with the running count), never a flood.
    assert kinds["error"] <= 8 * 8, kinds
    if errors:
        lost = [e for e in errors if "lost" in str(e["message"])]
        counts = [int(str(e["count"])) for e in lost]
        assert counts == sorted(counts)
