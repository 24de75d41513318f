"""The libdtrace backend against the real library (Oracle's DTrace for Linux here, built by
../shared/tools/build-libdtrace-linux), directly and through the API.  Skipped, with the
reason, where libdtrace cannot be loaded; such a machine runs the recorded-callback tests only."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ide.config import Settings
from ide.tracing.backend import RunSpec
from ide.tracing.libdtrace import LibdtraceBackend
from ide.tracing.libdtrace_tracer import LibdtraceTracer
from ide.tracing.model import (
    AggregationData,
    Attached,
    Exited,
    Output,
    Problem,
    Tick,
    TracerEvent,
)
from tests.conftest import LiveServer, libdtrace_ready

REASON = libdtrace_ready()
pytestmark = pytest.mark.skipif(REASON is not None, reason=str(REASON))

COUNT = "syscall:::entry { @num[probefunc] = count(); }"
LQUANTIZE = "syscall::read:entry { @dist[execname] = lquantize(arg0, 0, 12, 2); }"


@pytest.fixture(scope="module")
def backend() -> LibdtraceBackend:
    return LibdtraceBackend(Settings())


def run_for(tracer: Any, seconds: float) -> list[TracerEvent]:
    """Every event of a run stopped ``seconds`` after its probes attached."""
    return run_until(tracer, lambda _e: False, seconds)


def run_until(tracer: Any, done: Any, timeout: float = 30) -> list[TracerEvent]:
    """Every event of a run stopped once ``done(event)`` holds, or ``timeout`` seconds after
    its probes attached: a loaded machine may take several snapshots to see an event."""
    timer = threading.Timer(timeout, tracer.stop)
    events: list[TracerEvent] = []
    try:
        for e in tracer.events():
            events.append(e)
            if isinstance(e, Attached):
                timer.start()
            elif done(e):
                tracer.stop()
    finally:
        timer.cancel()
    return events


def last_aggregations(events: list[TracerEvent]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for e in events:
        if isinstance(e, AggregationData):
            found[e.aggregation.name] = e.aggregation
    return found


def test_the_status_names_the_oracle_library(backend: LibdtraceBackend) -> None:
    status = backend.status()
    assert status.available and status.version == "Oracle D 2.0"
    assert backend.family() == "oracle"


def test_the_seed_scripts_compile(backend: LibdtraceBackend) -> None:
    for script in (COUNT, LQUANTIZE):
        res = LibdtraceBackend(Settings()).compile(script)
        assert res.ok, res.diagnostics
    res = backend.compile(LQUANTIZE)
    assert [(a.name, a.function, a.params) for a in res.aggregations] == [
        ("@dist", "lquantize", {"lo": 0, "hi": 12, "step": 2})
    ]


def test_a_misspelt_aggregating_function_is_reported_at_its_line_and_column(
    backend: LibdtraceBackend,
) -> None:
    res = backend.compile("syscall:::entry\n{\n    @num[probefunc] = cuont();\n}\n")
    assert not res.ok
    [d] = res.diagnostics
    assert (d.line, d.column, d.end_line, d.end_column) == (3, 23, 3, 28)
    assert d.message == "undefined function name: cuont"


@pytest.mark.parametrize(
    ("script", "line", "words"),
    [
        ("BEGIN\n{\n  x = alloca(1000000000);\n}\n", 3, "scratchsize"),
        ("BEGIN\n{\n  trace(args[7]);\n}\n", 3, "out of range"),
        ("int x;\nBEGIN\n{\n  s = speculation();\n  commit(s);\n  trace(1);\n}\n", 6, "commit"),
        ("BEGIN\n{\n  trace(1);\n\n", 5, "end of input"),
    ],
)
def test_a_compile_error_is_on_the_line_libdtrace_names(
    backend: LibdtraceBackend, script: str, line: int, words: str
) -> None:
    [d] = backend.compile(script).diagnostics
    assert words in d.message
    assert d.line == line, d


def test_a_probe_that_matches_nothing_is_underlined(backend: LibdtraceBackend) -> None:
    [d] = backend.compile("BEGIN { }\nsyscall::nosuchcall:entry { }").diagnostics
    assert (d.line, d.column, d.end_column) == (2, 1, 26)


def test_a_timed_count_run_gives_cumulative_snapshots_and_one_exited(
    backend: LibdtraceBackend,
) -> None:
    ticks_with_data = 0

    def two_snapshots(e: TracerEvent) -> bool:
        nonlocal ticks_with_data
        if isinstance(e, AggregationData) and e.aggregation.name == "@num":
            ticks_with_data += 1
        return ticks_with_data >= 3

    events = run_until(backend.start(COUNT, RunSpec(interval=0.5)), two_snapshots)
    assert isinstance(events[0], Attached) and events[0].probes > 300
    assert events[-1] == Exited(0, None)
    snaps: list[dict[tuple[Any, ...], Any]] = []
    current: dict[tuple[Any, ...], Any] = {}
    for e in events:
        if isinstance(e, AggregationData) and e.aggregation.name == "@num":
            current = {r.key: r.value for r in e.aggregation.rows}
        elif isinstance(e, Tick) and current:
            snaps.append(current)
    assert len(snaps) >= 2, events
    assert any(key == ("read",) or key == ("ioctl",) or key == ("write",) for key in snaps[-1])
    for key, value in snaps[0].items():
        assert snaps[-1][key] >= value


def test_an_lquantize_run_has_buckets_of_its_step(backend: LibdtraceBackend) -> None:
    # Something to read: this process reads a file while the run is on.
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            with open("/proc/self/stat", "rb") as f:
                f.read()
            time.sleep(0.01)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        events = run_until(
            backend.start(LQUANTIZE, RunSpec(interval=0.5)),
            lambda e: isinstance(e, AggregationData) and e.aggregation.rows,
        )
    finally:
        stop.set()
    assert "@dist" in last_aggregations(events), events
    dist = last_aggregations(events)["@dist"]
    assert dist.function == "lquantize" and dist.params == {"lo": 0, "hi": 12, "step": 2}
    assert dist.rows
    for row in dist.rows:
        assert isinstance(row.key[0], str)
        for b in row.buckets:
            assert b.lo is None or b.hi is None or (b.hi - b.lo == 1 and b.lo % 2 == 0)


def test_printf_output_and_exit_end_the_run(backend: LibdtraceBackend) -> None:
    tracer = backend.start(
        'BEGIN { printf("hello <b>%d</b>\\n", 42); @c = count(); exit(3); }', RunSpec()
    )
    events = run_for(tracer, 20)
    text = "".join(e.text for e in events if isinstance(e, Output))
    assert text == "hello <b>42</b>\n", events
    assert last_aggregations(events)["@c"].rows[0].value == 1
    assert events[-1] == Exited(3, None)


def test_runs_that_start_while_others_close_all_start(backend: LibdtraceBackend) -> None:
    # Every consumer shares Oracle's BEGIN/END uprobes and deletes them as it closes, which
    # can make another consumer's start fail; the backend starts such a run again.
    ends: list[TracerEvent] = []

    def one(delay: float) -> None:
        time.sleep(delay)
        ends.append(list(backend.start("BEGIN { @c = count(); exit(0); }", RunSpec()).events())[-1])

    threads = [threading.Thread(target=one, args=(0.15 * i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert ends == [Exited(0, None)] * 24


def test_a_worker_killed_from_outside_gives_an_exited_with_an_error(
    backend: LibdtraceBackend,
) -> None:
    tracer = backend.start(COUNT, RunSpec(interval=0.5))
    assert isinstance(tracer, LibdtraceTracer)
    events: Iterator[TracerEvent] = tracer.events()
    assert isinstance(next(events), Attached)
    assert tracer.pid is not None
    os.kill(tracer.pid, signal.SIGKILL)
    last = list(events)[-1]
    assert isinstance(last, Exited)
    assert last.error is not None and "SIGKILL" in last.error


def test_probes_are_listed_as_dtrace_l_names(backend: LibdtraceBackend) -> None:
    probes = backend.list_probes()
    assert "syscall::read:entry" in {p.replace("vmlinux", "") for p in probes}
    assert "dtrace:::BEGIN" in probes


# --- through the API --------------------------------------------------------------------


def start(server: LiveServer, script: str, **fields: Any) -> str:
    status, body = server.request("POST", "/api/runs", {"language": "d", "script": script,
                                                        **fields})  # fmt: skip
    assert status == 201, body
    run_id: str = body["id"]
    return run_id


def wait_for(server: LiveServer, run_id: str, pred: Any, timeout: float = 30) -> dict[str, Any]:
    return server.wait_run(run_id, pred, timeout)


def test_the_api_reports_the_d_backend_as_available(live_server: LiveServer) -> None:
    status, body = live_server.request("GET", "/api/health")
    assert status == 200
    [d] = [b for b in body["backends"] if b["language"] == "d" and b["name"] == "dtrace"]
    assert d["available"] is True and d["version"] == "Oracle D 2.0"
    assert body["languages"]["d"]["default"] == "libdtrace"
    assert "libdtrace" in body["languages"]["d"]["via"]


def test_the_api_places_a_compile_error_at_its_line_and_column(live_server: LiveServer) -> None:
    status, body = live_server.request(
        "POST",
        "/api/compile",
        {"language": "d", "script": "syscall:::entry\n{ @num[probefunc] = cont(); }"},
    )
    assert status == 200 and body["ok"] is False
    [d] = body["diagnostics"]
    assert (d["line"], d["column"], d["end_column"]) == (2, 21, 25)


def test_a_timed_run_through_the_api_returns_snapshots(live_server: LiveServer) -> None:
    run_id = start(live_server, COUNT, duration=2, interval=0.5)
    body = wait_for(live_server, run_id, lambda b: b["state"] != "running")
    assert body["state"] == "finished", body
    [num] = [a for a in body["snapshot"]["aggregations"] if a["name"] == "@num"]
    assert num["function"] == "count"
    assert num["rows"] and all(isinstance(r["value"], int) for r in num["rows"])


def test_a_continuous_run_through_the_api_stops_promptly(live_server: LiveServer) -> None:
    run_id = start(live_server, LQUANTIZE, interval=0.5)
    wait_for(live_server, run_id, lambda b: b["snapshot"] is not None and b["elapsed"] > 1.5)
    asked = time.monotonic()
    status, _ = live_server.request("DELETE", f"/api/runs/{run_id}")
    assert status == 200
    body = wait_for(live_server, run_id, lambda b: b["state"] != "running", timeout=10)
    assert time.monotonic() - asked < 5  # not the ~25 s libdtrace takes to detach
    assert body["state"] in {"stopped", "finished"}, body


def test_user_symbol_lookups_are_refused_on_oracles_library(backend: LibdtraceBackend) -> None:
    # usym() keys make Oracle's libdtrace grab every traced process and crash doing so,
    # which leaves its breakpoints in those processes: never run such a script there.
    if backend.family() != "oracle":
        pytest.skip("only Oracle's libdtrace crashes on user symbols")
    result = backend.compile("syscall::read:entry\n{ @u[usym(arg1)] = count(); }")
    assert not result.ok
    [d] = result.diagnostics
    assert (d.line, d.column, d.end_column) == (2, 6, 10)
    assert "usym()" in d.message and "crash" in d.message
    tracer = backend.start("syscall::read:entry { @u[umod(arg1)] = count(); }", RunSpec())
    events = list(tracer.events())
    assert isinstance(events[-1], Exited) and "umod()" in str(events[-1].error)


def test_a_fault_in_libdtrace_ends_only_its_run(backend: LibdtraceBackend) -> None:
    # A worker that dies on a signal (here SIGSEGV sent from outside, as a crash would)
    # ends its run with one Exited naming the crash; the next run works.
    # tick-1s: no syscall probes, which earlier runs may still be detaching.
    tracer = backend.start("tick-1s { @c[execname] = count(); }", RunSpec())
    events: list[Any] = []
    it = tracer.events()
    deadline = time.monotonic() + 20
    for event in it:
        events.append(event)
        if isinstance(event, Attached | Exited) or time.monotonic() > deadline:
            break
    assert isinstance(events[-1], Attached), events
    assert tracer.pid is not None
    os.kill(tracer.pid, signal.SIGSEGV)
    events.extend(it)
    last = events[-1]
    assert isinstance(last, Exited) and sum(isinstance(e, Exited) for e in events) == 1
    assert last.error is not None and "libdtrace crashed (SIGSEGV)" in last.error
    after = run_for(backend.start("BEGIN { @c = count(); exit(0); }", RunSpec()), 20)
    assert after[-1] == Exited(0, None)


@pytest.mark.parametrize(
    ("script", "options", "fix"),
    [
        (
            'syscall:::entry { printf("%s %s %d\\n", execname, probefunc, arg0); }',
            {"bufsize": 8192},
            "increase bufsize",
        ),
        ("syscall:::entry { @[timestamp] = count(); }", {"aggsize": 4096}, "increase aggsize"),
    ],
)
def test_run_options_apply_and_drops_name_the_option_that_helps(
    backend: LibdtraceBackend, script: str, options: dict[str, int], fix: str
) -> None:
    events = run_until(
        backend.start(script, RunSpec(interval=0.5, options=options)),
        lambda e: isinstance(e, Problem) and bool(e.fix and e.fix.startswith(fix)),
    )
    fixes = {e.fix for e in events if isinstance(e, Problem)}
    assert any(f and f.startswith(fix) for f in fixes), events
    assert events[-1] == Exited(0, None)


def test_a_dead_worker_fails_the_run_and_keeps_its_last_snapshot(live_server: LiveServer) -> None:
    run_id = start(live_server, COUNT, interval=0.5)
    body = wait_for(live_server, run_id, lambda b: b["snapshot"] is not None)
    os.kill(body["pid"], signal.SIGKILL)
    body = wait_for(live_server, run_id, lambda b: b["state"] != "running", timeout=10)
    assert body["state"] == "failed", body
    assert "SIGKILL" in body["error"]
    [num] = [a for a in body["snapshot"]["aggregations"] if a["name"] == "@num"]
    assert num["rows"]


def test_the_worker_keeps_the_heaviest_rows_within_the_servers_cap() -> None:
    capped = LibdtraceBackend(Settings(max_rows_per_aggregation=3))
    events = run_until(
        capped.start(COUNT, RunSpec(interval=0.5)),
        lambda e: isinstance(e, AggregationData) and (e.aggregation.total_rows or 0) > 3,
    )
    assert "@num" in last_aggregations(events), events
    num = last_aggregations(events)["@num"]
    assert len(num.rows) == 3
    assert num.total_rows is not None and num.total_rows > 3


# --- the policy holds on what libdtrace compiled (canaries: files system() would create) ----

CHAR_CONSTANT = (
    "BEGIN {{ x = '/*'; }}\n#pragma D option destructive\n"
    "BEGIN {{ system(\"touch {canary}\"); y = '*/'; exit(0); }}\n"
)
QUOTE_CONSTANT = (
    '#pragma D option destructive\nBEGIN {{ c = \'"\'; system("touch {canary}"); exit(0); }}\n'
)
VERTICAL_TAB = '#pragma\vD\foption destructive\nBEGIN {{ system("touch {canary}"); exit(0); }}\n'
BYPASSES = {"char-constant": CHAR_CONSTANT, "quote": QUOTE_CONSTANT, "vertical-tab": VERTICAL_TAB}


def finish(tracer: Any) -> list[TracerEvent]:
    events = run_for(tracer, 20)
    time.sleep(0.5)  # system() runs in the consumer, after the probe fired
    return events


@pytest.mark.parametrize("name", BYPASSES)
def test_destructive_scripts_that_passed_the_text_scanner_never_run(
    backend: LibdtraceBackend, tmp_path: Any, name: str
) -> None:
    canary = tmp_path / "canary"
    script = BYPASSES[name].format(canary=canary)
    res = backend.compile(script)
    assert not res.ok
    assert any("--allow-destructive" in d.message and d.line > 0 for d in res.diagnostics)
    events = finish(backend.start(script, RunSpec()))
    last = events[-1]
    assert isinstance(last, Exited) and last.code == 1 and "destructive" in str(last.error)
    assert not any(isinstance(e, Attached) for e in events)
    assert not canary.exists()


def test_with_allow_destructive_the_same_script_does_run(tmp_path: Any) -> None:
    # The canary test above can fail: with the option allowed, system() creates the file.
    canary = tmp_path / "canary"
    script = CHAR_CONSTANT.format(canary=canary)
    allowing = LibdtraceBackend(Settings(allow_destructive=True))
    assert allowing.compile(script).ok
    events = finish(allowing.start(script, RunSpec()))
    assert events[-1] == Exited(0, None)
    assert canary.exists()


def test_a_buffer_past_the_cap_behind_a_vertical_tab_is_refused(backend: LibdtraceBackend) -> None:
    script = "#pragma\vD option bufsize=2g\nBEGIN { exit(0); }\n"
    [d] = backend.compile(script).diagnostics
    assert (d.line, d.column, d.end_column) == (1, 18, 28)
    assert d.message.startswith("bufsize=2g (2147483648 bytes) is past this server's cap")
    events = finish(backend.start(script, RunSpec()))
    assert isinstance(events[-1], Exited) and "bufsize=2g" in str(events[-1].error)
    assert not any(isinstance(e, Attached) for e in events)


def test_a_setopt_action_past_the_caps_ends_the_run(backend: LibdtraceBackend) -> None:
    script = 'BEGIN { setopt("switchrate", "1000hz"); } tick-100ms { @c = count(); }'
    assert backend.compile(script).ok  # nothing to refuse until it runs
    events = finish(backend.start(script, RunSpec(interval=0.2)))
    last = events[-1]
    assert isinstance(last, Exited) and last.code == 1
    assert "switchrate=1000hz is past this server's cap" in str(last.error)


def test_oracles_library_itself_refuses_destructive_actions_without_the_option(
    tmp_path: Any,
) -> None:
    # A worker told that destructive actions are allowed, but whose handle does not have the
    # option set: libdtrace refuses in dtrace_go, and nothing runs.
    import json
    import subprocess
    import sys

    from ide.tracing.libdtrace import WORKER_BOOT, find_library, worker_env

    canary = tmp_path / "canary"
    request = {"library": find_library(), "policy": {"allow_destructive": True},
               "script": f'BEGIN {{ system("touch {canary}"); exit(0); }}'}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", WORKER_BOOT, "run"],
        input=json.dumps(request) + "\n",
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=120,
    )
    last = json.loads(proc.stdout.splitlines()[-1])
    assert last["type"] == "exited" and "Destructive actions not allowed" in last["error"]
    time.sleep(0.5)
    assert not canary.exists()


def test_the_api_never_runs_a_destructive_script_hidden_behind_a_character_constant(
    live_server: LiveServer, tmp_path: Any
) -> None:
    canary = tmp_path / "canary"
    script = CHAR_CONSTANT.format(canary=canary)
    status, body = live_server.request("POST", "/api/compile", {"language": "d", "script": script})
    assert status == 200 and body["ok"] is False, body
    status, body = live_server.request("POST", "/api/runs", {"language": "d", "script": script})
    if status == 201:
        body = wait_for(live_server, body["id"], lambda b: b["state"] != "running")
        assert body["state"] == "failed", body
    else:
        assert status in (400, 403, 422), body
    time.sleep(0.5)
    assert not canary.exists()


# --- a script that clears its aggregations while the consumer snapshots --------------------


@pytest.mark.parametrize("action", ["trunc(@a)", "clear(@a)", "trunc(@a, 2)"])
def test_a_script_that_truncates_or_clears_while_snapshotting_runs_to_its_end(
    backend: LibdtraceBackend, action: str
) -> None:
    script = f"syscall:::entry {{ @a[execname] = count(); }}\ntick-10ms {{ {action}; }}\n"
    stop = threading.Event()

    def load() -> None:  # syscalls to count, from this process
        while not stop.is_set():
            os.stat("/")
            time.sleep(0.001)

    t = threading.Thread(target=load, daemon=True)
    t.start()
    try:
        events = run_for(backend.start(script, RunSpec(interval=0.1)), 5)
    finally:
        stop.set()
    assert events[-1] == Exited(0, None), events[-5:]
    assert not [e for e in events if isinstance(e, Problem) and "cannot" in e.message]
    ticks = sum(isinstance(e, Tick) for e in events)
    with_rows = [e for e in events if isinstance(e, AggregationData) and e.aggregation.rows]
    assert ticks >= 10, ticks
    assert with_rows, "no snapshot held data"


HIDING_PLACES = [
    "BEGIN {{ x = '/*'; }}\n{pragma}\nBEGIN {{ {call}; y = '*/'; }}\n",
    "{pragma}\nBEGIN {{ c = '\"'; {call}; }}\n",
    '{pragma}\nBEGIN {{ s = "\\"/*"; {call}; t = "*/"; }}\n',
    "/* {pragma_text} */\n{pragma}\nBEGIN {{ {call}; }} /*\n*/\n",
    "#!/usr/sbin/dtrace -s\n{pragma}\nBEGIN {{ c = '\\''; {call}; }}\n",
]
PRAGMAS = [
    "#pragma\fD\voption destructive",
    "#  pragma D option destructive=yes",
    "\v#pragma D option destructive=1",
]
CALLS = ['system("touch /nonexistent/x")', "raise(0)", "copyout(0, 0, 0)"]


@pytest.mark.parametrize("place", range(len(HIDING_PLACES)))
def test_destructive_programs_hidden_by_every_lexical_form_are_refused(
    backend: LibdtraceBackend, place: int
) -> None:
    for i, call in enumerate(CALLS):
        pragma = PRAGMAS[(place + i) % len(PRAGMAS)]
        script = HIDING_PLACES[place].format(
            pragma=pragma, pragma_text="#pragma D option quiet", call=call
        )
        res = LibdtraceBackend(Settings()).compile(script)
        assert not res.ok, script
        lines = {d.line for d in res.diagnostics if "--allow-destructive" in d.message}
        assert script.split("\n").index(pragma) + 1 in lines, (script, res.diagnostics)


def test_a_worker_never_lets_libdtrace_read_a_file_creating_option(tmp_path: Any) -> None:
    # Even a request that reaches the worker without the server's check: ctypes= would
    # create its file as root when libdtrace reads the pragma.
    import json
    import subprocess
    import sys

    from ide.tracing.libdtrace import WORKER_BOOT, find_library, worker_env

    made = tmp_path / "made-by-libdtrace"
    for mode in ("compile", "run"):
        request = {"library": find_library(),
                   "script": f"#pragma D option ctypes={made}\nBEGIN {{ exit(0); }}\n"}  # fmt: skip
        proc = subprocess.run(
            [sys.executable, "-c", WORKER_BOOT, mode],
            input=json.dumps(request) + "\n",
            capture_output=True,
            text=True,
            env=worker_env(),
            timeout=120,
        )
        last = json.loads(proc.stdout.splitlines()[-1])
        assert "option ctypes is not one a script may set" in str(last.get("error")), last
        assert not made.exists()
