"""The script policy holds against any text the tracer accepts (real bpftrace, real libdtrace).

Each reproduction of a bypass found by review is a test; a property test then hides
destructive calls behind every comment, string, character-constant and preprocessor form and
runs whatever the server lets through, with harmless canaries: a file that ``system()`` would
create, and a mode-600 file whose contents ``cat()`` would print.
"""

from __future__ import annotations

import secrets
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ide.config import Settings
from ide.tracing.model import Exited, Output
from ide.tracing.pipeline import ScriptPipeline
from ide.tracing.registry import Backends
from ide.tracing.session import RunManager
from tests.conftest import LiveServer, libdtrace_ready, start_server, stop_server, tracer_ready

pytestmark = pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready()))
STRICT = Settings(token="t", backend="bpftrace")


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A root-only file and the words only it holds."""
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    words = "canary-" + secrets.token_hex(8)
    path.write_text(words + "\n")
    path.chmod(0o600)
    return path, words


def run_output(pipeline: ScriptPipeline, language: Any, script: str, seconds: float = 4) -> str:
    """Start ``script`` straight on the backend (as a run would) and gather its output."""
    tracer = pipeline.backend(language).start(script, _spec())
    text: list[str] = []
    timer = threading.Timer(seconds, tracer.stop)
    timer.start()
    try:
        for event in tracer.events():
            if isinstance(event, Output):
                text.append(event.text)
            if isinstance(event, Exited):
                text.append(event.error or "")
    finally:
        timer.cancel()
    return "".join(text)


def _spec() -> Any:
    from ide.tracing.backend import RunSpec

    return RunSpec(interval=0.5)


def pipeline_for(settings: Settings) -> ScriptPipeline:
    return ScriptPipeline(settings, Backends.for_settings(settings), RunManager(settings))


CHAR_CONSTANT_CAT = "#define Q '/*'\nBEGIN {{ cat(\"{path}\"); exit(); }}\n// '*/'\n"


def test_a_character_constant_in_a_define_hides_no_cat(secret: tuple[Path, str]) -> None:
    path, words = secret
    script = CHAR_CONSTANT_CAT.format(path=path)
    pipeline = pipeline_for(STRICT)
    result = pipeline.compile("bpftrace", script)
    assert not result.ok and result.refused
    (d,) = result.diagnostics
    assert (d.line, d.column) == (2, 9) and "cat()" in d.message
    # Started anyway, past the API: the backend refuses it itself.
    assert words not in run_output(pipeline, "bpftrace", script)


def test_the_same_script_runs_where_the_server_allows_it(secret: tuple[Path, str]) -> None:
    """The canary is real: with --allow-destructive the same script prints the file."""
    path, words = secret
    pipeline = pipeline_for(Settings(token="t", backend="bpftrace", allow_destructive=True))
    script = CHAR_CONSTANT_CAT.format(path=path)
    assert pipeline.compile("bpftrace", script).ok
    assert words in run_output(pipeline, "bpftrace", script)


def test_an_include_says_nothing_of_the_file_it_names(tmp_path: Path) -> None:
    there = tmp_path / "there.h"
    there.write_text("int x;\nint y\n")
    pipeline = pipeline_for(STRICT)
    answers = []
    for path in (there, tmp_path / "absent.h", Path("/etc/shadow")):
        result = pipeline.compile("bpftrace", f'#include "{path}"\nBEGIN {{ exit(); }}\n')
        assert not result.ok and result.refused
        answers.append([(d.line, d.column, d.message) for d in result.diagnostics])
    assert answers[0] == answers[1] == answers[2]
    assert "exist" not in answers[0][0][2] and str(tmp_path) not in answers[0][0][2]


def test_system_headers_still_include() -> None:
    result = pipeline_for(STRICT).compile(
        "bpftrace", '#include <linux/limits.h>\nBEGIN { printf("%d\\n", PATH_MAX); exit(); }'
    )
    assert result.ok, result.diagnostics


def test_bpftrace_rejects_config_blocks_itself() -> None:
    """0.17 has no ``config = {...}``: no tracer option can be set from the script text, so
    the server's environment (BPFTRACE_*) is the only source of them.  A bpftrace that
    accepts config blocks must get a policy for them before it is supported."""
    result = pipeline_for(STRICT).compile(
        "bpftrace", "config = { max_map_keys = 100000000 }\nBEGIN { exit(); }"
    )
    assert not result.ok
    assert "syntax error" in result.diagnostics[0].message


# --- no request can hold the server ------------------------------------------------------------

# The same scripts that bench/bench_policy.py measures the server's CPU on.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_policy import ADVERSARIAL, N  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = start_server(tmp_path_factory.mktemp("bypass"), "--backend", "bpftrace")
    yield s
    stop_server(s)


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_an_adversarial_script_at_the_cap_leaves_the_server_answering(
    server: LiveServer, name: str
) -> None:
    script = ADVERSARIAL[name]
    assert len(script.encode()) <= N
    answers: list[tuple[int, Any]] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(
                server.request("POST", "/api/compile", {"language": "bpftrace", "script": script})
            )
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    time.sleep(0.05)
    started = time.monotonic()
    status, health = server.request("GET", "/api/health")
    health_s = time.monotonic() - started
    for t in threads:
        t.join(60)
    assert status == 200 and health["backends"]
    # A generous bound: the point is that health is not queued behind both compiles.
    assert health_s < 5, health_s
    assert [s for s, _ in answers] == [200, 200]
    assert all(body["ok"] is False and body["diagnostics"] for _, body in answers)


# --- the property: hidden destructive calls never run --------------------------------------------

# Ways to put a payload (a whole probe) into a script so that a scanner that disagrees with the
# tracer about comments, strings, character constants or the preprocessor would miss it.
BPFTRACE_FORMS = [
    "#define Q '/*'\n{P}\n// '*/'",
    '#define Q "/*"\n{P}\n// "*/"',
    "// a comment ending in a backslash \\\n{P}",
    "#if 0\n{P}\n#endif",
    '#define S "\\"" \n{P}\n#define T "\\""',
    "{P} // '",
    '{P} /* " */',
    "/* */ {P}",
    "#define M(x) x\n{P}",
    "#define F system\n{P}",
]
BPFTRACE_PAYLOADS = [
    'BEGIN {{ cat("{secret}"); exit(); }}',
    'BEGIN {{ system("touch {canary}"); exit(); }}',
    '#define READ cat("{secret}")\nBEGIN {{ READ; exit(); }}',
]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    forms=st.lists(st.sampled_from(BPFTRACE_FORMS), min_size=1, max_size=3),
    payload=st.sampled_from(BPFTRACE_PAYLOADS),
)
def test_no_hidden_bpftrace_payload_runs(
    secret: tuple[Path, str], tmp_path: Path, forms: list[str], payload: str
) -> None:
    path, words = secret
    canary = tmp_path / ("touched-" + secrets.token_hex(4))
    body = payload.format(secret=path, canary=canary)
    script = body
    for form in forms:
        script = form.replace("{P}", script)
    pipeline = pipeline_for(STRICT)
    result = pipeline.compile("bpftrace", script)
    if result.ok:  # whatever the server lets through is run, and must not have done it
        out = run_output(pipeline, "bpftrace", script, seconds=3)
        assert words not in out, script
    assert not canary.exists(), script


D_FORMS = [
    "BEGIN {{ x = '/*'; }}\n{P}\nBEGIN {{ y = '*/'; }}",
    "BEGIN {{ c = '\"'; }} {P}",
    "{P} /* ' */",
    '/* " */ {P}',
    'BEGIN {{ printf("/*"); }}\n{P}\nBEGIN {{ printf("*/"); }}',
]
D_PRAGMAS = [
    "#pragma D option destructive",
    "#pragma\vD option destructive",
    "#pragma\fD\voption\fdestructive",
    "#pragma D option destructive=1",
]


@pytest.mark.skipif(libdtrace_ready() is not None, reason=str(libdtrace_ready()))
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    forms=st.lists(st.sampled_from(D_FORMS), min_size=1, max_size=2),
    pragma=st.sampled_from(D_PRAGMAS),
)
def test_no_hidden_d_destructive_action_runs(tmp_path: Path, forms: list[str], pragma: str) -> None:
    canary = tmp_path / ("touched-" + secrets.token_hex(4))
    script = f'BEGIN {{ system("touch {canary}"); exit(0); }}'
    for form in forms:
        script = form.replace("{P}", script).replace("{{", "{").replace("}}", "}")
    script = pragma + "\n" + script
    pipeline = pipeline_for(Settings(token="t", backend="dtrace"))
    result = pipeline.compile("d", script)
    if result.ok:
        run_output(pipeline, "d", script, seconds=3)
    time.sleep(0.2)
    assert not canary.exists(), script


def test_a_macro_cannot_rewrite_the_snapshot_probe(secret: tuple[Path, str]) -> None:
    """``interval`` in the probe a run adds is an identifier, so a script's macro applies to
    it: the program that runs is judged, not only the script."""
    path, words = secret
    script = (
        f'#define interval BEGIN {{ cat("{path}"); }} profile\n'
        "tracepoint:syscalls:sys_enter_openat { @c = count(); }\n"
    )
    pipeline = pipeline_for(STRICT)
    result = pipeline.compile("bpftrace", script)
    assert not result.ok and result.refused
    assert "macro" in result.diagnostics[0].message and "cat()" in result.diagnostics[0].message
    out = run_output(pipeline, "bpftrace", script)
    assert words not in out
    assert "interval probe" in out
