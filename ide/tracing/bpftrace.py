"""The bpftrace backend (Linux): ``bpftrace -d`` to compile, ``-f json`` to run.

Compiling is bpftrace's dry run with debug output: it parses, checks and generates code
without loading anything, and prints its parse (``bpftrace_ast``), from which the server's
policy and the map facts are read.  What clang would read is judged before bpftrace runs.

bpftrace prints maps only at exit, so a run appends one interval probe that prints the
script's aggregations and then a line carrying a per-run nonce: everything before the nonce
line belongs to one snapshot, and the nonce tells our output from the user's.

Which maps that probe prints is decided from bpftrace's parse (``snapshot_plan``): bpftrace
0.17 aborts when a print meets a key the script's BPF code delete()d in the middle of the
walk, so maps the script deletes from, and plain-value scratch maps, are left to the print
bpftrace makes at exit, after its probes are detached (docs/backends.md, "Snapshots").
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from .backend import BackendStatus, BackendUnavailable, RefusedTracer, RunSpec
from .bpftrace_advice import self_printed_warnings
from .bpftrace_ast import MapFacts, ProgramFacts, parse_debug_output
from .bpftrace_diagnostics import is_noise as is_noise
from .bpftrace_diagnostics import parse_diagnostics as parse_diagnostics
from .json_lines import json_line, line_batches, text_of
from .model import (
    Aggregation,
    AggregationData,
    AggregationDecl,
    Attached,
    Bucket,
    CompileResult,
    Diagnostic,
    Exited,
    Key,
    KeyPart,
    Language,
    Output,
    Problem,
    Row,
    Tick,
    TracerEvent,
)
from .policy import bpftrace_refusals, preprocessor_refusals
from .process import signal_process, spawn
from .scriptinfo import declared_aggregations

TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
MAX_STDERR_LINES = 200
COMPILE_TIMED_OUT = "bpftrace took too long to compile this script"
MAX_STDERR_LINE_BYTES = 64 * 1024
# Before this version bpftrace aborts when a map print meets a key deleted during its walk
# (it took libbpf's -ENOENT for a real error); from it on such keys are skipped.
WALK_FIXED_IN = "0.19"
_WALK_ABORT = re.compile(r'Could not (print|clear|zero) map with ident "(@[A-Za-z0-9_]*)"')


def tracefs_mounted() -> bool:
    return any(os.path.isdir(os.path.join(p, "events")) for p in TRACEFS)


class BpftraceBackend:
    name = "bpftrace"
    language: Language = "bpftrace"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache: OrderedDict[str, tuple[CompileResult, ProgramFacts]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._version: str | None = None

    # --- status -------------------------------------------------------------------------

    def executable(self) -> str | None:
        return shutil.which(self.settings.bpftrace_path)

    def version(self) -> str | None:
        if self._version is None:
            exe = self.executable()
            if exe is None:
                return None
            try:
                res = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                return None
            self._version = res.stdout.strip().removeprefix("bpftrace ").strip() or None
        return self._version

    def status(self) -> BackendStatus:
        reason = self.unavailable_reason()
        return BackendStatus(self.name, self.language, reason is None, self.version(), reason)

    def unavailable_reason(self) -> str | None:
        if self.executable() is None:
            return "bpftrace is not installed: run `apt-get install bpftrace` (Debian/Ubuntu)"
        if os.geteuid() != 0:
            return "bpftrace needs root: start dtrace-ide as root (sudo dtrace-ide serve)"
        if not tracefs_mounted():
            return (
                "tracefs is not mounted, so tracepoints cannot be found: run "
                "`mount -t tracefs nodev /sys/kernel/tracing`"
            )
        return None

    def _require(self) -> str:
        reason = self.unavailable_reason()
        exe = self.executable()
        if reason is not None or exe is None:
            raise BackendUnavailable(reason or "bpftrace is not installed")
        return exe

    def _env(self, options: dict[str, int] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BPFTRACE_")}
        opts = options or {}
        env["BPFTRACE_MAP_KEYS_MAX"] = str(opts.get("max_map_keys", 4096))
        env["BPFTRACE_STRLEN"] = str(opts.get("max_strlen", 64))
        if "bufsize" in opts:
            env["BPFTRACE_PERF_RB_PAGES"] = str(max(1, opts["bufsize"] // 4096))
        env["BPFTRACE_NO_USER_SYMBOLS"] = "0"
        return env

    def _unsafe(self) -> list[str]:
        # bpftrace's own guard for system()/signal()/override(); ide/tracing/policy.py has
        # already refused them unless the server was started with --allow-destructive.
        return ["--unsafe"] if self.settings.allow_destructive else []

    # --- compile ------------------------------------------------------------------------

    def compile(self, script: str) -> CompileResult:
        return self.analyse(script)[0]

    def facts(self, script: str) -> ProgramFacts:
        """What bpftrace's parse says ``script`` does (empty when it did not parse)."""
        return self.analyse(script)[1]

    def analyse(self, script: str) -> tuple[CompileResult, ProgramFacts]:
        """The compile result, with the server's refusals, and the parse it came from."""
        exe = self._require()
        with self._cache_lock:
            hit = self._cache.get(script)
            if hit is not None:
                self._cache.move_to_end(script)
                return hit
        result = self._analyse_uncached(exe, script)
        compiled, facts = result
        if compiled.ok and "#" in script:
            # Macros apply to the snapshot probe that a run adds: judge that program too.
            added, _ = self._analyse_uncached(
                exe, snapshot_program(script, snapshot_plan(facts).live, 1.0, "dtrace-ide-check")
            )
            if not added.ok:
                problem = Diagnostic(1, 1, 1, 1, _added_probe_problem(added))
                result = (CompileResult(False, (problem,), compiled.aggregations, True), facts)
        with self._cache_lock:
            self._cache[script] = result
            while len(self._cache) > self.settings.compile_cache_entries:
                self._cache.popitem(last=False)
        return result

    def _analyse_uncached(self, exe: str, script: str) -> tuple[CompileResult, ProgramFacts]:
        refused = preprocessor_refusals(script)
        if refused:  # bpftrace (clang) never reads the script
            return CompileResult(False, tuple(refused), refused=True), ProgramFacts()
        try:
            res = subprocess.run(
                [exe, *self._unsafe(), "-d", "-"],
                input=script.encode(),
                capture_output=True,
                timeout=self.settings.compile_timeout_s,
                env=self._env(),
            )
        except subprocess.TimeoutExpired:
            diag = Diagnostic(1, 1, 1, 1, COMPILE_TIMED_OUT)
            return CompileResult(False, (diag,)), ProgramFacts()
        facts = parse_debug_output(res.stdout.decode("utf-8", "replace"))
        stderr = res.stderr.decode("utf-8", "replace")
        diagnostics = parse_diagnostics(stderr, script)
        refusals = bpftrace_refusals(script, facts, self.settings)
        if refusals:
            # bpftrace's own errors about a refused call ("unsafe function", "can not be used
            # with BEGIN") are moot: the call may not stay.
            spans = {(r.line, r.column) for r in refusals}
            diagnostics = [
                d for d in diagnostics
                if (d.line, d.column) not in spans and "unsafe function" not in d.message
            ]  # fmt: skip
        advice = self_printed_warnings(script, facts)
        diagnostics = sorted([*refusals, *diagnostics, *advice], key=lambda d: (d.line, d.column))
        errors = any(d.severity == "error" for d in diagnostics)
        ok = res.returncode == 0 and not errors
        if not ok and not errors:
            text = "; ".join(ln for ln in stderr.splitlines() if ln.strip() and not is_noise(ln))
            diagnostics.append(
                Diagnostic(1, 1, 1, 1, text or f"bpftrace exited with {res.returncode}")
            )
        # Without a parse (a syntax error), the map names come from the text: for the editor.
        decls = declarations(facts) if facts.maps else declared_aggregations(script, "bpftrace")
        result = CompileResult(ok, tuple(diagnostics), decls, bool(refusals))
        return result, facts

    # --- run ----------------------------------------------------------------------------

    def start(self, script: str, spec: RunSpec) -> BpftraceTracer | RefusedTracer:
        exe = self._require()
        compiled, facts = self.analyse(script)
        if not compiled.ok:  # whoever calls, nothing refused or broken starts
            first = next((d for d in compiled.diagnostics if d.severity == "error"), None)
            return RefusedTracer(first.message if first else "the script does not compile")
        decls = declarations(facts)
        plan = snapshot_plan(facts)
        nonce = "dtrace-ide-tick-" + secrets.token_hex(8)
        program = snapshot_program(script, plan.live, spec.interval, nonce)
        # The policy holds for what runs: the script's macros apply to the probe added here
        # too (``#define interval BEGIN { cat(...); } profile``), so the whole program is
        # parsed and judged again.  Without a "#" there is no macro, and the added probe is
        # ours as written; not parsing again then spares each start a second bpftrace, which
        # on a loaded machine ran past compile_timeout_s and refused plain scripts.
        if "#" in script:
            final, _ = self._analyse_uncached(exe, program)
            if not final.ok:
                return RefusedTracer(_added_probe_problem(final))
        proc = spawn(
            [exe, *self._unsafe(), "-f", "json", "-"],
            env=self._env(dict(spec.options)),
            memory_bytes=self.settings.tracer_memory_bytes,
            stdin=subprocess.PIPE,
        )
        assert proc.stdin is not None
        try:
            proc.stdin.write(program.encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        return BpftraceTracer(proc, decls, nonce, self.settings.max_tracer_line_bytes, plan)

    def list_probes(self) -> list[str]:
        exe = self._require()
        res = subprocess.run(
            [exe, "-l"], capture_output=True, text=True, timeout=60, env=self._env()
        )
        return [ln.strip() for ln in res.stdout.splitlines() if ln.strip()]


@dataclass(frozen=True)
class SnapshotPlan:
    """Which maps a run prints every interval, and what it tells the user of the others."""

    live: tuple[str, ...] = ()  # printed by the interval probe
    at_exit: frozenset[str] = frozenset()  # shown from bpftrace's exit print, when not empty
    notes: tuple[Problem, ...] = ()


def removes_keys(m: MapFacts) -> bool:
    """Whether the script's delete() takes keys out of the map while a print may walk it.

    bpftrace 0.17 keeps a key-less count() in a per-CPU array, where delete() stores zero
    instead of removing the key; every other map is a hash map.
    """
    return m.deleted and not (m.kind == "count" and m.key_arity == 0)


SCRATCH_KEYS = frozenset({"tid", "pid", "cpu"})


def is_scratch(m: MapFacts) -> bool:
    """Per-event state rather than a result: plain values the script deletes, or keeps per
    thread or process (``@start[tid] = nsecs``)."""
    return not m.is_aggregation and (m.deleted or bool(m.keyed_by & SCRATCH_KEYS))


def snapshot_plan(facts: ProgramFacts) -> SnapshotPlan:
    """Print aggregations and counters every interval; leave scratch state and maps the
    script deletes from to the exit.

    An interval print runs in bpftrace's user space while the script's delete() runs in BPF;
    a key deleted between bpftrace's get-next-key and its lookup aborts bpftrace 0.17
    ("failed to look up elem: -2").  clear() and zero() run in user space one at a time with
    print(), so they are safe.  At exit bpftrace detaches every probe before it prints the
    maps, so that print cannot race.
    """
    live: list[str] = []
    at_exit: set[str] = set()
    notes: list[Problem] = []
    for m in facts.maps.values():
        if not removes_keys(m) and not is_scratch(m):
            live.append(m.name)  # aggregations, and counters such as @calls[comm]++
            continue
        at_exit.add(m.name)
        if not m.is_aggregation:
            why = "deleted per event" if m.deleted else "one value per thread or process"
            notes.append(
                Problem(
                    f"{m.name} is scratch state ({why}), not shown live",
                    "what it holds when the run ends is shown then; aggregate into a map "
                    "(count(), hist(), …) to chart it live",
                    "note",
                )
            )
        else:
            notes.append(
                Problem(
                    f"{m.name} is not shown live: the script delete()s its keys, and "
                    f"bpftrace before {WALK_FIXED_IN} aborts when a snapshot meets a key "
                    f"deleted during the walk; it is shown when the run ends",
                    f"clear({m.name}) instead of delete() (clear runs in turn with snapshots), "
                    f"or use bpftrace {WALK_FIXED_IN} or later",
                    "note",
                )
            )
    return SnapshotPlan(tuple(live), frozenset(at_exit), tuple(notes))


def snapshot_program(script: str, live: tuple[str, ...], interval: float, nonce: str) -> str:
    """The script with the probe that prints the ``live`` maps each interval, then the nonce
    line (``snapshot_plan`` says which maps are live)."""
    ms = max(1, round(interval * 1000))
    prints = "".join(f" print({name});" for name in live)
    return f'{script}\ninterval:ms:{ms} {{{prints} printf("{nonce}\\n"); }}\n'


def _added_probe_problem(result: CompileResult) -> str:
    first = next((d for d in result.diagnostics if d.severity == "error"), None)
    why = first.message if first else "bpftrace did not accept it"
    if why == COMPILE_TIMED_OUT:  # a loaded machine, not the script: say so
        return f"{why} (with the snapshot probe dtrace-ide adds); try again"
    return (
        "a macro of this script changes the interval probe that dtrace-ide adds to take "
        f"snapshots (rename the macro): {why}"
    )


def declarations(facts: ProgramFacts) -> tuple[AggregationDecl, ...]:
    """The maps of bpftrace's parse as the backend-neutral declarations."""
    return tuple(_declaration(m) for m in facts.maps.values())


def _declaration(m: MapFacts) -> AggregationDecl:
    params = dict(zip(("lo", "hi", "step"), m.params, strict=False)) if m.kind == "lhist" else {}
    return AggregationDecl(m.name, m.kind, params, m.key_arity)


# --- parsing bpftrace's JSON output --------------------------------------------------------


def _key_part(text: str) -> KeyPart:
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def split_key(raw: str, arity: int) -> Key:
    """bpftrace 0.17 joins a multi-key map's key with commas: make the tuple again.

    Only the comma-joined text is available, so a key part that itself contains a comma is
    ambiguous; extra commas are kept in the last part (stacks and strings tend to come last).
    """
    if arity <= 1:
        return (_key_part(raw),)
    parts = raw.split(",", arity - 1)
    return tuple(_key_part(p) for p in parts)


def _bucket(b: dict[str, Any]) -> Bucket:
    return Bucket(b.get("min"), b.get("max"), int(b.get("count", 0)))


def aggregation_from_event(
    kind: str, name: str, data: Any, decl: AggregationDecl | None
) -> Aggregation:
    function = decl.function if decl else {"hist": "hist", "stats": "stats"}.get(kind, "value")
    arity = decl.key_arity if decl else (1 if isinstance(data, dict) else 0)
    params = dict(decl.params) if decl else {}
    rows: list[Row] = []
    if kind == "hist":
        items = data.items() if isinstance(data, dict) else [(None, data)]
        for raw_key, buckets in items:
            key = () if raw_key is None else split_key(raw_key, arity)
            rows.append(Row(key, buckets=tuple(_bucket(b) for b in buckets)))
    elif kind == "stats" and function == "stats":
        keyed = isinstance(data, dict) and all(isinstance(v, dict) for v in data.values())
        items = data.items() if keyed and arity else [(None, data)]
        for raw_key, st in items:
            key = () if raw_key is None else split_key(raw_key, arity)
            rows.append(Row(key, value=st.get("average"), stats=dict(st)))
    else:  # map, or avg as "stats"
        if isinstance(data, dict):
            for raw_key, value in data.items():
                rows.append(Row(split_key(raw_key, arity), value=value))
        else:
            rows.append(Row((), value=data))
    return Aggregation(name, function, tuple(rows), params)


class BpftraceTracer:
    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        decls: tuple[AggregationDecl, ...],
        nonce: str,
        max_line_bytes: int,
        plan: SnapshotPlan | None = None,
    ) -> None:
        self.proc = proc
        self.decls = {d.name: d for d in decls}
        self.plan = plan or SnapshotPlan()
        self.nonce = nonce + "\n"
        self.max_line_bytes = max_line_bytes
        self.stderr_tail: deque[str] = deque(maxlen=MAX_STDERR_LINES)
        self._stopping = False
        self._killed = False
        self._stderr_thread = threading.Thread(
            target=self._read_stderr, name=f"bpftrace-stderr-{proc.pid}", daemon=True
        )
        self._stderr_thread.start()

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    def _read_stderr(self) -> None:
        stderr = self.proc.stderr
        assert stderr is not None
        for raw in iter(lambda: stderr.readline(MAX_STDERR_LINE_BYTES), b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.strip() and not is_noise(line):
                self.stderr_tail.append(line)

    def stop(self) -> None:
        self._stopping = True
        signal_process(self.proc, signal.SIGINT)

    def kill(self) -> None:
        self._stopping = True
        self._killed = True
        signal_process(self.proc, signal.SIGKILL)

    def events(self) -> Iterator[TracerEvent]:
        stdout = self.proc.stdout
        assert stdout is not None
        yield from self.plan.notes
        for batch in line_batches(stdout, self.max_line_bytes):
            yield from self._batch_events(batch)
        code = self.proc.wait()
        self._stderr_thread.join(timeout=2)
        # A finished run stays listed for a while: give its pipes back now, not when it goes.
        stdout.close()
        if self.proc.stderr is not None and not self._stderr_thread.is_alive():
            self.proc.stderr.close()
        yield Tick()
        yield Exited(code, self._error(code))

    def _batch_events(self, batch: list[bytes | None]) -> Iterator[TracerEvent]:
        """The events of one read's lines; a run of printf lines is one Output, so a script
        printing 100k lines a second costs a few events, not one per line."""
        printed: list[str] = []
        for raw in batch:
            msg: Any = None
            if raw is not None and (raw := raw.strip()):
                msg = json_line(raw)
                if not isinstance(msg, dict):
                    printed.append(msg)
                    continue
                data = msg.get("data")
                if msg.get("type") == "printf" and isinstance(data, str) and data != self.nonce:
                    printed.append(data)
                    continue
            elif raw is not None:
                continue
            if printed:
                yield Output("".join(printed))
                printed.clear()
            if raw is None:
                yield Problem("a tracer output line was too long and was dropped")
            else:
                yield from self._translate(msg)
        if printed:
            yield Output("".join(printed))

    def _translate(self, msg: dict[str, Any]) -> Iterator[TracerEvent]:
        kind = msg.get("type")
        data = msg.get("data")
        if kind == "attached_probes":
            yield Attached(int((data or {}).get("probes", 0)))
        elif kind == "printf":
            if data == self.nonce:
                yield Tick()
            else:
                yield Output(str(data))
        elif kind in {"map", "hist", "stats"} and isinstance(data, dict):
            for name, content in data.items():
                if name in self.plan.at_exit and not content:
                    continue  # a scratch map the script emptied: no empty chart
                yield AggregationData(
                    aggregation_from_event(kind, name, content, self.decls.get(name))
                )
        elif kind == "lost_events":
            lost = (data or {}).get("events", "some") if isinstance(data, dict) else data
            yield Problem(
                f"{lost} events were lost",
                "raise the bufsize option (bpftrace's perf ring buffer) or trace less often",
                lost=lost if isinstance(lost, int) else 0,
            )
        else:
            yield Output(text_of(data) + "\n")

    def _error(self, code: int) -> str | None:
        if code == 0:
            return None
        if self._stopping and (code in (-signal.SIGINT, -signal.SIGKILL) or self._killed):
            return None
        errors = [ln.strip() for ln in self.stderr_tail if "ERROR:" in ln or "what():" in ln]
        detail = "; ".join((errors or list(self.stderr_tail))[-5:])
        walk = next((ln for ln in self.stderr_tail if "failed to look up elem" in ln), None)
        if walk is not None:
            return self._walk_abort(code, walk.strip())
        if code < 0:
            name = signal.Signals(-code).name
            return f"bpftrace was killed by {name}" + (f": {detail}" if detail else "")
        return detail or f"bpftrace exited with status {code}"

    def _walk_abort(self, code: int, message: str) -> str:
        """bpftrace's own message, with the map it was walking and what to change."""
        found = None
        for ln in self.stderr_tail:
            found = _WALK_ABORT.search(ln) or found
        how = "ended" if code >= 0 else f"was killed by {signal.Signals(-code).name}"
        text = f"bpftrace {how}: {message}"
        if found is None:
            return (
                text + ": a map print met a key the script delete()d during the walk, which "
                f"bpftrace before {WALK_FIXED_IN} cannot survive; do not print, clear or zero a "
                f"map the script delete()s from, or use bpftrace {WALK_FIXED_IN} or later"
            )
        action, name = found.groups()
        return (
            text + f" while it {action}ed {name}: the script delete()d a key of {name} during "
            f"the walk, which bpftrace before {WALK_FIXED_IN} cannot survive; do not print(), "
            f"clear() or zero() {name} while the script delete()s from it, or use bpftrace "
            f"{WALK_FIXED_IN} or later"
        )
