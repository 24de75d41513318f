"""Keystroke-to-highlight time of the browser editor on a 2,000-line script, in Chromium.

Mounts the committed bundle (static/vendor/editor.js) on the test harness page
(tests/browser/editor_page), loads a 2,000-line bpftrace or D script whose lines each call an
aggregating function, then presses a real key 50 times near the middle and 50 times near the
end of the script.  Each key turns `count(` into `counta(`, so its line must lose its
aggregating-function class: a sample counts only once the DOM shows the new highlighting.

A sample is the time from the keydown event to the moment the editor has updated its DOM,
the line's highlighting is the new one and a forced layout is done; "next frame" adds the
wait for the following animation frame.  When the highlighting lags the text (the parser ran
out of its time budget), the sample lasts until a frame shows it; "late" counts those.
The target is a p95 under 16 ms.

    .venv/bin/python bench/bench_editor.py [--lines 2000] [--keys 50] [--language bpftrace]
                                           [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import statistics
import threading
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
HARNESS = ROOT / "tests" / "browser" / "editor_page"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TARGET_MS = 16.0


class _Handler(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0]
        if clean.startswith("/static/"):
            return str(STATIC / clean.removeprefix("/static/"))
        return str(HARNESS / (clean.lstrip("/") or "index.html"))

    def log_message(self, format: str, *args: Any) -> None:
        pass


def script(language: str, lines: int) -> str:
    """About `lines` lines: clauses of four body lines, each body line calling count()."""
    out: list[str] = []
    i = 0
    while len(out) < lines:
        if language == "d":
            out.append(f'syscall::read{i}:entry /execname == "p{i}" && arg2 > {i}/ {{')
            body = "    @c{n}[execname, probefunc] = count(); self->t{n} = timestamp;"
        else:
            out.append(f'kprobe:vfs_read{i} /pid != {i} && comm != "p{i}"/ {{')
            body = "    @c{n}[comm, tid] = count(); $x{n} = nsecs / 1000;"
        out.extend(body.format(n=i * 4 + k) for k in range(4))
        out.append("}")
        i += 1
    return "\n".join(out[:lines]) + "\n"


# Runs in the page: times one key press on `line`, which holds "count(".
MEASURE = """
async (line) => {
  const h = window.harness, v = h.editor.view;
  const l = v.state.doc.line(line);
  const at = l.from + l.text.indexOf("count(") + "count".length;
  h.editor.revealLine(line);
  v.dispatch({selection: {anchor: at}});
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const lineNode = () => v.domAtPos(v.state.doc.line(line).from + 4).node;
  const highlighted = () => {
    let el = lineNode();
    while (el && !(el.classList && el.classList.contains("cm-line"))) el = el.parentNode;
    return el && el.querySelector(".dt-aggregating") === null && el.textContent.includes("counta(");
  };
  // Not awaited here: the key is pressed after this returns, then window.__sample is read.
  window.__sample = new Promise((resolve) => {
    let t0 = 0;
    const down = () => { t0 = performance.now(); };
    document.addEventListener("keydown", down, {capture: true, once: true});
    h.onChangeHook = () => {
      h.onChangeHook = null;
      v.contentDOM.getBoundingClientRect();
      if (highlighted()) {
        const t1 = performance.now();
        const done = () => resolve({work: t1 - t0, frame: performance.now() - t0, ok: true});
        requestAnimationFrame(done);
        return;
      }
      // Highlighting lags the text (the parser ran out of its time budget): the sample
      // lasts until the line shows it, checked at every frame.
      const poll = () => {
        if (highlighted()) {
          const t1 = performance.now();
          resolve({work: t1 - t0, frame: t1 - t0, ok: true, late: true});
        } else if (performance.now() - t0 > 5000) {
          resolve({work: 5000, frame: 5000, ok: false});
        } else requestAnimationFrame(poll);
      };
      requestAnimationFrame(poll);
    };
  });
  return true;
}
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def run(language: str, lines: int, keys: int) -> dict[str, Any]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    text = script(language, lines)
    doc_lines = text.count("\n")
    body_lines = [n for n in range(1, doc_lines + 1) if "count(" in text.split("\n")[n - 1]]
    middle = [n for n in body_lines if n > doc_lines // 2][:keys]
    end = [n for n in body_lines if n > doc_lines - keys * 2][-keys:]
    results: dict[str, Any] = {"language": language, "lines": doc_lines, "keys": keys}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']", state="attached")
            page.evaluate(
                "([doc, language]) => window.harness.start({doc, language, compile: null})",
                [text, language],
            )
            page.wait_for_selector(".cm-content")
            page.locator(".cm-content").click()
            for name, targets in (("middle", middle), ("end", end)):
                work: list[float] = []
                frame: list[float] = []
                late = 0
                for n in targets:
                    page.evaluate(MEASURE, n)
                    page.keyboard.press("a")
                    sample = page.evaluate("window.__sample")
                    if not sample["ok"]:
                        raise SystemExit(f"line {n}: highlighting not updated within 5 s")
                    late += bool(sample.get("late"))
                    work.append(sample["work"])
                    frame.append(sample["frame"])
                results[name] = {
                    "p50_ms": round(statistics.median(work), 2),
                    "p95_ms": round(percentile(work, 95), 2),
                    "max_ms": round(max(work), 2),
                    "next_frame_p95_ms": round(percentile(frame, 95), 2),
                    "late": late,
                }
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return results


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run whose worst p95 is the median one: other work on the machine makes outliers."""
    ordered = sorted(runs, key=lambda r: max(r["middle"]["p95_ms"], r["end"]["p95_ms"]))
    chosen = dict(ordered[len(ordered) // 2])
    chosen["runs"] = len(runs)
    chosen["worst_p95_each_run_ms"] = [max(r["middle"]["p95_ms"], r["end"]["p95_ms"]) for r in runs]
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--language", choices=["bpftrace", "d"], default="bpftrace")
    parser.add_argument("--runs", type=int, default=3, help="report the median run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results = median_run([run(args.language, args.lines, args.keys) for _ in range(args.runs)])
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    results["loadavg"] = " ".join(load)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"editor keystroke-to-highlight, {results['language']}, {results['lines']} lines, "
        f"{results['keys']} keys per position (target p95 < {TARGET_MS:g} ms)"
    )
    print(f"{'where':<8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'next frame p95':>16}{'late':>6}")
    worst = 0.0
    for name in ("middle", "end"):
        r = results[name]
        worst = max(worst, r["p95_ms"])
        print(
            f"{name:<8}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['max_ms']:>9}"
            f"{r['next_frame_p95_ms']:>16}{r['late']:>6}"
        )
    print(
        f"worst p95 {worst} ms: {'within' if worst < TARGET_MS else 'OVER'} the target "
        f"(median of {results['runs']} runs: {results['worst_p95_each_run_ms']}; "
        f"load average {results['loadavg']})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
