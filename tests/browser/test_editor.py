"""The bundled script editor in Chromium: highlighting, diagnostics, completion, hover, keys.

The editor is mounted on a small harness page (tests/browser/editor_page) served with the
real static folder, so what runs is the committed bundle ``static/vendor/editor.js`` and the
generated ``static/js/vocabulary.js``.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, tracer_ready

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
HARNESS = Path(__file__).resolve().parent / "editor_page"
ARTIFACTS = ROOT / "test-artifacts"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves /static/* from the repository's static folder and the rest from the harness."""

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0].split("#", 1)[0]
        if clean.startswith("/static/"):
            return str(STATIC / clean.removeprefix("/static/"))
        return str(HARNESS / (clean.lstrip("/") or "index.html"))

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def harness_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def page(browser: Any, harness_url: str) -> Iterator[Any]:
    """The harness page (overrides the shared page fixture: no server is needed here)."""
    context = browser.new_context(viewport={"width": 900, "height": 600})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(harness_url)
    pg.wait_for_selector("body[data-ready='1']", state="attached")
    yield pg
    context.close()
    assert errors == [], f"uncaught errors on the page: {errors}"


# A fake compiler: reports bpftrace's error for an unknown function call `cont(`.
FAKE_COMPILER = """
async (text, language) => {
  const lines = text.split("\\n");
  for (let i = 0; i < lines.length; i++) {
    const col = lines[i].indexOf("cont(");
    if (col >= 0) {
      return {ok: false, diagnostics: [{line: i + 1, column: col + 1, end_line: i + 1,
        end_column: col + 5, severity: "error", message: "Unknown function: 'cont'"}]};
    }
  }
  return {ok: true, diagnostics: []};
}
"""


def set_impl(page: Any, name: str, source: str) -> None:
    """Replaces the harness's fake compiler or probe list with a JS function."""
    page.evaluate(f"() => {{ window.harness.{name} = {source}; }}")


def start(page: Any, doc: str = "", language: str = "bpftrace", **extra: Any) -> None:
    page.evaluate(
        "([doc, language, extra]) => window.harness.start({doc, language, ...extra})",
        [doc, language, extra],
    )
    page.wait_for_selector(".cm-content")
    # The text is highlighted in the background as well as up to the visible lines; the
    # tests look at every line, so finish it now.
    assert page.evaluate("window.harness.editor.ensureHighlighted(5000)")


def place_cursor(page: Any, offset: int) -> None:
    page.evaluate(
        "(pos) => { const v = window.harness.editor.view;"
        " v.dispatch({selection: {anchor: pos}}); v.focus(); }",
        offset,
    )


def token_classes(page: Any) -> dict[str, list[str]]:
    """Text of every highlighted span in the editor, grouped by its dt-* class."""
    result: dict[str, list[str]] = page.evaluate(
        """() => {
          const out = {};
          for (const span of document.querySelectorAll(".cm-content [class*='dt-']")) {
            for (const cls of span.classList) {
              if (cls.startsWith("dt-")) (out[cls] = out[cls] || []).push(span.textContent);
            }
          }
          return out;
        }"""
    )
    return result


def test_typing_an_unknown_function_underlines_exactly_it_with_the_message_on_hover(
    page: Any,
) -> None:
    set_impl(page, "compileImpl", FAKE_COMPILER)
    start(page, "kprobe:vfs_read\n{\n    \n}\n")
    place_cursor(page, len("kprobe:vfs_read\n{\n    "))
    page.keyboard.type("@num[probefunc] = cont();", delay=5)
    underline = page.wait_for_selector(".cm-lintRange-error", timeout=5000)
    marked = page.eval_on_selector_all(
        ".cm-lintRange-error", "els => els.map(e => e.textContent).join('')"
    )
    assert marked == "cont"
    result = page.evaluate("window.harness.diagnostics.at(-1)")
    assert result["ok"] is False
    assert result["diagnostics"][0]["message"] == "Unknown function: 'cont'"

    box = underline.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.wait_for_selector(".cm-tooltip-lint", timeout=5000)
    assert "Unknown function: 'cont'" in tooltip.text_content()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "editor-diagnostic-hover.png"))

    page.mouse.move(0, 0)
    page.evaluate("() => window.harness.editor.setText(" + repr(SHOWCASE_BPFTRACE) + ")")
    page.wait_for_selector(".cm-lintRange-error", timeout=5000)
    page.screenshot(path=str(ARTIFACTS / "editor-bpftrace.png"))


def test_compile_runs_once_after_a_pause_and_only_the_latest_answer_counts(page: Any) -> None:
    set_impl(
        page,
        "compileImpl",
        """(text) => new Promise((resolve) => {
             // The first answer is slow: it arrives after the text has changed again.
             const wait = text.includes("first") ? 900 : 10;
             setTimeout(() => resolve({ok: false, diagnostics: [{line: 1, column: 1,
               end_line: 1, end_column: 2, severity: "error", message: text}]}), wait);
           });""",
    )
    start(page, "")
    page.locator(".cm-content").click()
    page.keyboard.type("BEGIN { first }", delay=10)
    page.wait_for_function("window.harness.compileCalls.length === 1", timeout=3000)
    page.keyboard.type(" second", delay=10)
    page.wait_for_function("window.harness.compileCalls.length === 2", timeout=3000)
    page.wait_for_timeout(1200)
    messages = page.evaluate("window.harness.diagnostics.map(d => d.diagnostics[0].message)")
    assert messages == ["BEGIN { first } second"]
    assert page.evaluate("window.harness.compileCalls.length") == 2


def test_completion_after_cou_offers_count(page: Any) -> None:
    start(page, "kprobe:vfs_read\n{\n    @calls = \n}\n")
    place_cursor(page, len("kprobe:vfs_read\n{\n    @calls = "))
    page.keyboard.type("cou", delay=20)
    page.wait_for_selector(".cm-tooltip-autocomplete", timeout=3000)
    labels = page.eval_on_selector_all(
        ".cm-tooltip-autocomplete .cm-completionLabel", "els => els.map(e => e.textContent)"
    )
    assert "count" in labels
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "editor-completion.png"))
    page.wait_for_timeout(150)  # Enter is ignored for a moment after the list opens
    page.keyboard.press("Enter")
    assert "@calls = count\n" in page.evaluate("window.harness.editor.getText()")


LABELS_JS = (
    "[...document.querySelectorAll('.cm-tooltip-autocomplete .cm-completionLabel')]"
    ".map(e => e.textContent)"
)


def test_probe_completion_asks_for_probes_by_prefix_and_caches_them(page: Any) -> None:
    set_impl(
        page,
        "probesImpl",
        """async (prefix) =>
             ["syscall::read:entry", "syscall::readv:entry", "syscall::write:entry"]
               .filter(p => p.startsWith(prefix));""",
    )
    start(page, "", language="d")
    page.locator(".cm-content").click()
    page.keyboard.type("syscall::rea", delay=30)
    page.wait_for_function(
        "window.harness.probeCalls.some(c => c.prefix === 'syscall::rea')", timeout=3000
    )
    # The list shows the answer for the whole prefix once it arrives.
    page.wait_for_function(
        f"JSON.stringify({LABELS_JS}) === "
        """'["syscall::read:entry","syscall::readv:entry"]'""",
        timeout=3000,
    )
    calls = page.evaluate("window.harness.probeCalls")
    assert {"prefix": "syscall::rea", "language": "d"} in calls
    prefixes = [c["prefix"] for c in calls]
    assert len(prefixes) == len(set(prefixes)), "the same prefix was asked twice"
    page.keyboard.press("Backspace")
    page.keyboard.type("a", delay=30)
    page.wait_for_timeout(300)
    again = [c["prefix"] for c in page.evaluate("window.harness.probeCalls")]
    assert again.count("syscall::rea") == 1


def test_hover_over_a_builtin_shows_its_doc(page: Any) -> None:
    start(page, 'tracepoint:syscalls:sys_enter_openat { printf("%s\\n", comm); }\n')
    span = page.locator(".cm-content .dt-builtin", has_text="comm").first
    span.hover()
    tip = page.wait_for_selector(".dt-hover", timeout=3000)
    assert "process name" in tip.text_content()
    assert "built-in variable" in tip.text_content()

    start(page, "syscall::read:entry { @[execname] = quantize(arg2); }\n", language="d")
    page.locator(".cm-content .dt-builtin", has_text="execname").first.hover()
    tip = page.wait_for_selector(".dt-hover", timeout=3000)
    assert "execname" in tip.text_content()
    page.mouse.move(0, 0)
    page.wait_for_selector(".dt-hover", state="detached", timeout=3000)
    page.locator(".cm-content .dt-aggregating", has_text="quantize").first.hover()
    tip = page.wait_for_selector(".dt-hover", timeout=3000)
    assert "quantize(" in tip.text_content()
    assert "aggregating function" in tip.text_content()


def test_hover_help_works_inside_a_predicate(page: Any) -> None:
    start(page, 'syscall::read:entry\n/execname == "sshd"/\n{\n    trace(pid);\n}\n', "d")
    span = page.locator(".cm-content .dt-predicate.dt-builtin", has_text="execname")
    span.hover()
    tip = page.wait_for_selector(".dt-hover", timeout=3000)
    assert "built-in variable" in tip.text_content()


def test_hover_help_text_comes_from_the_vocabulary(page: Any) -> None:
    start(page, 'BEGIN { printf("%d", nsecs); exit(); }\n')
    expected = page.evaluate(
        "import('/static/js/vocabulary.js').then(m => m.VOCABULARY.bpftrace.builtins.nsecs)"
    )
    assert expected
    page.locator(".cm-content .dt-builtin", has_text="nsecs").first.hover()
    tip = page.wait_for_selector(".dt-hover", timeout=3000)
    assert expected in tip.text_content()


def test_mod_enter_runs_and_mod_s_saves(page: Any) -> None:
    start(page, "BEGIN { exit(); }")
    page.locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    page.keyboard.press("Control+s")
    assert page.evaluate("window.harness.runs") == ["BEGIN { exit(); }"]
    assert page.evaluate("window.harness.saves") == ["BEGIN { exit(); }"]
    assert page.evaluate("window.harness.editor.getText()") == "BEGIN { exit(); }"


def test_undo_restores_the_text_before_typing(page: Any) -> None:
    start(page, "BEGIN { }")
    place_cursor(page, len("BEGIN { "))
    page.keyboard.type("exit(); ", delay=5)
    assert page.evaluate("window.harness.editor.getText()") == "BEGIN { exit(); }"
    page.keyboard.press("Control+z")
    assert page.evaluate("window.harness.editor.getText()") == "BEGIN { }"


def test_ctrl_f_opens_search(page: Any) -> None:
    start(page, "BEGIN { exit(); }")
    page.locator(".cm-content").click()
    page.keyboard.press("Control+f")
    page.wait_for_selector(".cm-search input[name='search']", timeout=3000)


SHOWCASE_BPFTRACE = """#!/usr/bin/env bpftrace
/* Count reads per process and time them. */
tracepoint:syscalls:sys_enter_read,
kprobe:vfs_read /pid != $1 && comm != "bash"/
{
    @start[tid] = nsecs;          // remember when it began
    $len = arg2;
    @bytes = hist($len);
    @num[probefunc] = cont();
    printf("%s read %d\\n", comm, $len);
}

uprobe:/bin/bash:readline { @lines = count(); }

interval:s:1 { print(@bytes); clear(@bytes); }
"""

SHOWCASE_D = """#!/usr/sbin/dtrace -s
#pragma D option quiet
#pragma D option bufsize=4m

syscall::read:entry
/execname == "sshd" && arg2 > 0x10/
{
    self->ts = timestamp;
    this->fd = arg0;
    this->kb = arg2 / 1024;
    @bytes[execname] = quantize(arg2);
}

syscall::read:return
/self->ts/
{
    @lat["read", probefunc] = lquantize(timestamp - self->ts, 0, 1000, 10);
    printf("%s %d\\n", stringof(copyinstr(arg1)), $target);
    self->ts = 0;
}

tick-1s { printa(@bytes); trunc(@bytes); }
"""


def test_d_script_shows_every_highlight_class(page: Any) -> None:
    start(page, SHOWCASE_D, language="d")
    got = token_classes(page)
    expect = {
        "dt-comment": "#!/usr/sbin/dtrace -s",
        "dt-pragma": "#pragma D option",
        "dt-option": "bufsize",
        "dt-provider": "syscall",
        "dt-probe": "::read:entry",
        "dt-predicate": "execname",
        "dt-builtin": "timestamp",
        "dt-string": '"sshd"',
        "dt-number": "0x10",
        "dt-self": "self->ts",
        "dt-this": "this->fd",
        "dt-aggregation": "@bytes",
        "dt-aggregating": "lquantize",
        "dt-function": "copyinstr",
        "dt-keyword": "stringof",
        "dt-macro": "$target",
        "dt-escape": "\\n",
    }
    for cls, text in expect.items():
        assert text in got.get(cls, []), f"{text!r} is not highlighted as {cls}: {got.get(cls)}"
    assert "tick" in got["dt-provider"]
    assert "4m" in got["dt-number"]
    assert "4m" not in got["dt-probe"]
    assert "-1s" in got["dt-probe"]
    # Inside the clause body a "/" is division, never a predicate.
    assert "1024" in got["dt-number"]
    assert "1024" not in got.get("dt-predicate", [])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "editor-d.png"))


def test_bpftrace_script_shows_every_highlight_class(page: Any) -> None:
    start(page, SHOWCASE_BPFTRACE, language="bpftrace")
    got = token_classes(page)
    expect = {
        "dt-comment": "// remember when it began",
        "dt-provider": "kprobe",
        "dt-probe": ":vfs_read",
        "dt-predicate": "comm",
        "dt-macro": "$1",
        "dt-scratch": "$len",
        "dt-builtin": "nsecs",
        "dt-aggregation": "@start",
        "dt-aggregating": "hist",
        "dt-function": "printf",
    }
    for cls, text in expect.items():
        assert text in got.get(cls, []), f"{text!r} is not highlighted as {cls}: {got.get(cls)}"
    # A probe that names a file keeps the path in the probe description.
    assert ":/bin/bash:readline" in got["dt-probe"]
    assert ":s:1" in got["dt-probe"]
    assert "interval" in got["dt-provider"]


def test_set_language_switches_the_word_lists(page: Any) -> None:
    start(page, "BEGIN { x = execname; y = comm; }", language="bpftrace")
    assert "comm" in token_classes(page).get("dt-builtin", [])
    assert "execname" not in token_classes(page).get("dt-builtin", [])
    page.evaluate("window.harness.editor.setLanguage('d')")
    assert page.evaluate("window.harness.editor.getLanguage()") == "d"
    page.wait_for_function(
        "[...document.querySelectorAll('.dt-builtin')].some(e => e.textContent === 'execname')"
    )
    assert "comm" not in token_classes(page).get("dt-builtin", [])


def test_set_diagnostics_and_reveal_line(page: Any) -> None:
    doc = "".join(f'BEGIN {{ printf("{i}"); }}\n' for i in range(300))
    start(page, doc, compile=None)
    page.evaluate(
        """window.harness.editor.setDiagnostics([
             {line: 250, column: 9, end_line: 250, end_column: 9, severity: "warning",
              message: "point"}])"""
    )
    page.evaluate("window.harness.editor.revealLine(250, 4)")
    marked = page.wait_for_selector(".cm-lintRange-warning", timeout=3000)
    # An empty range underlines the one character at its column.
    assert marked.text_content() == "p"
    line, column = page.evaluate(
        "(() => { const v = window.harness.editor.view, head = v.state.selection.main.head;"
        " const line = v.state.doc.lineAt(head); return [line.number, head - line.from + 1]; })()"
    )
    assert (line, column) == (250, 4)
    # Without a compile callback nothing replaces them; edits above move them along.
    place_cursor(page, 0)
    page.keyboard.type("// top\n", delay=10)
    page.wait_for_timeout(600)
    page.evaluate("window.harness.editor.revealLine(251)")
    marked = page.wait_for_selector(".cm-lintRange-warning", timeout=3000)
    assert marked.text_content() == "p"


def test_diagnostics_outside_the_text_are_clamped(page: Any) -> None:
    start(page, "BEGIN { }\n")
    ranges = page.evaluate(
        """(() => {
             const doc = window.harness.editor.view.state.doc;
             return import('/static/vendor/editor.js').then(m => m.toEditorDiagnostics(doc, [
               {line: 99, column: 99, severity: "error", message: "past the end"},
               {line: 1, column: 7, end_line: 1, end_column: 10, severity: "note",
                message: "m"},
             ]).map(d => [d.from, d.to, d.severity]));
           })()"""
    )
    assert ranges == [[10, 10, "error"], [6, 9, "info"]]


# --- the real page, the real server and the real bpftrace --------------------------------

real_tracer = pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready()))


@pytest.fixture
def wizard(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """The wizard page of the real server, authenticated by its printed URL."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.goto(live_server.url)
    pg.wait_for_selector("#editor .cm-content")
    yield pg
    context.close()


def choose_language(wizard: Any, language: str) -> None:
    wizard.check(f'input[name="language"][value="{language}"]', force=True)
    wizard.wait_for_function(
        f'document.querySelector(\'input[name="language"][value="{language}"]\').checked'
    )


# What each language's compiler says of cont(): D's is libdtrace's where it is installed,
# otherwise that of the D checker in front of the translation to bpftrace.
REAL_BROKEN = {
    "bpftrace": ("kprobe:vfs_read", ("Unknown function: cont",)),
    "d": (
        "syscall::read:entry",
        ("undefined function name: cont", "cont(): not a D aggregating function"),
    ),
}


@real_tracer
@pytest.mark.parametrize("language", ["bpftrace", "d"])
def test_real_compiler_error_is_underlined_under_cont_with_its_message(
    wizard: Any, live_server: LiveServer, language: str
) -> None:
    probe, expected = REAL_BROKEN[language]
    status, answer = live_server.request(
        "POST", "/api/compile", {"language": language, "script": f"{probe} {{ }}"}
    )
    if status != 200:
        pytest.skip(f"no {language} compiler on this server: {answer}")
    script = f"{probe}\n{{\n    @num[probefunc] = cont();\n}}\n"
    _, answer = live_server.request(
        "POST", "/api/compile", {"language": language, "script": script}
    )
    message = answer["diagnostics"][0]["message"]
    assert any(m in message for m in expected), message
    choose_language(wizard, language)
    editor = wizard.locator("#editor .cm-content")
    editor.click()
    wizard.keyboard.press("Control+a")
    wizard.keyboard.insert_text(f"{probe}\n{{\n    \n}}\n")
    wizard.keyboard.press("Control+Home")
    wizard.keyboard.press("ArrowDown")
    wizard.keyboard.press("ArrowDown")
    wizard.keyboard.press("End")
    wizard.keyboard.type("@num[probefunc] = cont();", delay=20)
    underline = wizard.wait_for_selector(".cm-lintRange-error", timeout=30_000)
    marked = wizard.eval_on_selector_all(
        ".cm-lintRange-error", "els => els.map(e => e.textContent).join('')"
    )
    assert marked == "cont"
    box = underline.bounding_box()
    wizard.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = wizard.wait_for_selector(".cm-tooltip-lint", timeout=5000)
    assert message in tooltip.text_content()
    ARTIFACTS.mkdir(exist_ok=True)
    wizard.screenshot(path=str(ARTIFACTS / f"editor-real-compile-error-{language}.png"))


@real_tracer
def test_real_probe_list_completes_tracepoint_names(wizard: Any) -> None:
    choose_language(wizard, "bpftrace")
    editor = wizard.locator("#editor .cm-content")
    editor.click()
    wizard.keyboard.press("Control+a")
    wizard.keyboard.press("Delete")
    wizard.keyboard.type("tracepoint:syscalls:sys_enter_rea", delay=20)
    wizard.wait_for_function(
        """[...document.querySelectorAll('.cm-tooltip-autocomplete .cm-completionLabel')]
             .some(e => e.textContent === 'tracepoint:syscalls:sys_enter_read')""",
        timeout=30_000,
    )
    labels = wizard.eval_on_selector_all(
        ".cm-tooltip-autocomplete .cm-completionLabel", "els => els.map(e => e.textContent)"
    )
    assert "tracepoint:syscalls:sys_enter_read" in labels
    assert all(label.startswith("tracepoint:syscalls:sys_enter_rea") for label in labels)


def test_completion_context_follows_edits_above_the_cursor(page: Any) -> None:
    set_impl(page, "probesImpl", "async (prefix) => ['kprobe:vfs_read', 'kprobe:vfs_write']")
    start(page, "BEGIN { }\n\n", language="bpftrace", compile=None)
    labels_js = (
        "[...document.querySelectorAll('.cm-tooltip-autocomplete .cm-completionLabel')]"
        ".map(e => e.textContent)"
    )

    def complete_at_end(word: str) -> list[str]:
        page.keyboard.press("Escape")
        end = page.evaluate("window.harness.editor.getText().length")
        place_cursor(page, end)
        page.keyboard.type(word, delay=20)
        page.wait_for_selector(".cm-tooltip-autocomplete", timeout=3000)
        page.wait_for_timeout(200)
        labels: list[str] = page.evaluate(labels_js)
        for _ in word:
            page.keyboard.press("Backspace")
        return labels

    # Between clauses, a word is a probe description.
    assert "kprobe:vfs_read" in complete_at_end("kpro")
    # Opening a clause above the cursor makes the same place a clause body.
    page.keyboard.press("Escape")
    page.evaluate(
        "(() => { const v = window.harness.editor.view;"
        " v.dispatch({changes: {from: 0, to: 9, insert: 'BEGIN {'}}); })()"
    )
    labels = complete_at_end("kst")
    assert "kstack" in labels
    assert "kprobe:vfs_read" not in labels


FIXTURES = ROOT / "tests" / "fixtures" / "scripts"
REAL_SCRIPTS = sorted(
    [*FIXTURES.glob("*.d"), *FIXTURES.glob("*.bt"), *Path("/usr/sbin").glob("*.bt")]
)

# Per rendered line: the dt-* classes of its spans in order, with their text.
LINE_TOKENS = """() => [...document.querySelectorAll('.cm-content .cm-line')].map(line =>
  [...line.querySelectorAll('[class*="dt-"]')].map(span =>
    [[...span.classList].filter(c => c.startsWith('dt-')).join(' '), span.textContent]))"""


def test_every_probe_description_of_real_scripts_starts_with_its_provider(
    browser: Any, harness_url: str
) -> None:
    """The sample scripts and the bpftrace tools Debian installs, each shown whole."""
    assert any(p.suffix == ".d" for p in REAL_SCRIPTS), "no D sample scripts found"
    context = browser.new_context(viewport={"width": 1000, "height": 4000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(harness_url)
    pg.wait_for_selector("body[data-ready='1']", state="attached")
    pg.evaluate("() => { document.getElementById('editor').style.height = 'auto'; }")
    problems: list[str] = []
    for path in REAL_SCRIPTS:
        language = "d" if path.suffix == ".d" else "bpftrace"
        start(pg, path.read_text(encoding="utf-8"), language=language, compile=None)
        pg.wait_for_function(
            "n => document.querySelectorAll('.cm-content .cm-line').length === n",
            arg=path.read_text(encoding="utf-8").count("\n") + 1,
        )
        assert pg.evaluate("window.harness.editor.ensureHighlighted(5000)")
        pg.wait_for_timeout(50)
        lines: list[list[list[str]]] = pg.evaluate(LINE_TOKENS)
        for number, spans in enumerate(lines, 1):
            classes = [cls for cls, _ in spans]
            if "dt-probe" in classes and "dt-provider" not in classes[: classes.index("dt-probe")]:
                problems.append(f"{path.name}:{number}: {spans}")
    context.close()
    assert errors == []
    assert problems == []


@pytest.mark.parametrize("language", ["d", "bpftrace"])
def test_every_vocabulary_word_has_its_highlight_class_and_hover_help(
    page: Any, language: str
) -> None:
    vocabulary = page.evaluate(
        f"import('/static/js/vocabulary.js').then(m => m.VOCABULARY['{language}'])"
    )
    builtins = list(vocabulary["builtins"])
    aggregations = list(vocabulary["aggregations"])
    functions = [f for f in vocabulary["functions"] if f not in vocabulary["aggregations"]]
    body = [f"    x = {name};" for name in builtins]
    body += [f"    {name}();" for name in [*aggregations, *functions]]
    start(page, "BEGIN\n{\n" + "\n".join(body) + "\n}\n", language=language, compile=None)
    page.evaluate("() => { document.getElementById('editor').style.height = 'auto'; }")
    page.set_viewport_size({"width": 900, "height": 20 * (len(body) + 8)})
    page.wait_for_function(
        "n => document.querySelectorAll('.cm-content .cm-line').length === n",
        arg=len(body) + 4,
    )
    assert page.evaluate("window.harness.editor.ensureHighlighted(5000)")
    page.wait_for_timeout(100)
    got = token_classes(page)
    assert [w for w in builtins if w not in got.get("dt-builtin", [])] == []
    assert [w for w in aggregations if w not in got.get("dt-aggregating", [])] == []
    assert [w for w in functions if w not in got.get("dt-function", [])] == []

    # Hover help for one of each: its signature and doc come from the vocabulary.
    for cls, name, entry in [
        (
            "dt-builtin",
            builtins[-1],
            {"signature": builtins[-1], "doc": vocabulary["builtins"][builtins[-1]]},
        ),
        ("dt-aggregating", aggregations[-1], vocabulary["aggregations"][aggregations[-1]]),
        ("dt-function", functions[-1], vocabulary["functions"][functions[-1]]),
    ]:
        page.mouse.move(0, 0)
        page.wait_for_selector(".dt-hover", state="detached", timeout=3000)
        page.locator(f".cm-content .{cls}", has_text=name).last.hover()
        tip = page.wait_for_selector(".dt-hover", timeout=3000)
        text = tip.text_content()
        assert entry["signature"] in text
        assert entry["doc"] in text


def test_pragma_options_complete_and_explain_themselves(page: Any) -> None:
    start(page, "", language="d", compile=None)
    page.locator(".cm-content").click()
    page.keyboard.type("#pragma D option bufsi", delay=20)
    page.wait_for_selector(".cm-tooltip-autocomplete", timeout=3000)
    labels = page.eval_on_selector_all(
        ".cm-tooltip-autocomplete .cm-completionLabel", "els => els.map(e => e.textContent)"
    )
    assert "bufsize" in labels
    assert "count" not in labels
    page.wait_for_timeout(150)
    page.keyboard.press("Enter")
    assert page.evaluate("window.harness.editor.getText()") == "#pragma D option bufsize"
    doc = page.evaluate(
        "import('/static/js/vocabulary.js').then(m => m.VOCABULARY.d.options.bufsize)"
    )
    page.locator(".cm-content .dt-option", has_text="bufsize").hover()
    tip = page.wait_for_selector(".dt-hover", timeout=3000)
    assert doc in tip.text_content()


def test_tab_indents_and_escape_then_tab_leaves_the_editor(page: Any) -> None:
    start(page, "BEGIN { }", compile=None)
    place_cursor(page, 0)
    page.keyboard.press("Tab")
    assert page.evaluate("window.harness.editor.getText()") == "    BEGIN { }"
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "after"
    assert page.evaluate("window.harness.editor.getText()") == "    BEGIN { }"


def test_short_provider_names_complete_through_their_full_names(page: Any) -> None:
    set_impl(
        page,
        "probesImpl",
        """async (prefix) => ["tracepoint:syscalls:sys_enter_read",
             "tracepoint:syscalls:sys_enter_readv", "kprobe:vfs_read"]
               .filter(p => p.startsWith(prefix))""",
    )
    start(page, "", language="bpftrace", compile=None)
    page.locator(".cm-content").click()
    page.keyboard.type("t:syscalls:sys_enter_rea", delay=30)
    # The full name is asked for...
    page.wait_for_function(
        "window.harness.probeCalls.some(c => c.prefix === 'tracepoint:syscalls:sys_enter_rea')",
        timeout=3000,
    )
    # ...and the answers are offered in the short form.
    page.wait_for_function(
        f"JSON.stringify({LABELS_JS}) === "
        """'["t:syscalls:sys_enter_read","t:syscalls:sys_enter_readv"]'""",
        timeout=3000,
    )
    asked = {c["prefix"] for c in page.evaluate("window.harness.probeCalls")}
    assert not any(p.startswith("t:") for p in asked)


def test_an_empty_script_is_not_compiled_and_a_failing_compile_is_reported(page: Any) -> None:
    set_impl(page, "compileImpl", "async () => { throw new Error('server unreachable'); }")
    start(page, "   \n")
    page.wait_for_function("window.harness.diagnostics.length === 1", timeout=3000)
    assert page.evaluate("window.harness.diagnostics[0]") == {"ok": None, "diagnostics": []}
    assert page.evaluate("window.harness.compileCalls.length") == 0

    place_cursor(page, 0)
    page.keyboard.type("BEGIN { exit(); }", delay=5)
    page.wait_for_function("window.harness.diagnostics.length === 2", timeout=3000)
    assert page.evaluate("window.harness.diagnostics[1]") == {
        "ok": False,
        "diagnostics": [],
        "error": "server unreachable",
    }
    assert page.locator(".cm-lintRange").count() == 0
