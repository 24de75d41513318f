"""The fleet in Chromium: a real RabbitMQ broker, a server with --broker and two real
`dtrace-ide agent` processes (web-1, db-1) with real bpftrace, and a third (web-2) that has
left.  The Run step lists the hosts live; a tag, a ticked box and "All online hosts" pick
them; one run on both shows one chart of the total, then by host; the host strip says both
finished.

A click on a key of web-1 in the by-host view drills down into a child run on web-1 alone.

The pictures docs/screenshots/fleet-hosts.png (the picker), fleet-by-host.png (the by-host
view) and fleet-drill.png (the drill menu on a host's key) are taken on the way (copied
there with DTRACE_IDE_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.broker import Broker, rabbitmq  # noqa: F401
from tests.browser.test_wizard import RUN_TIMEOUT_MS, wait_compiles, wait_state
from tests.conftest import (
    ARTIFACTS,
    ROOT,
    LiveServer,
    set_script,
    start_server,
    stop_server,
    tracer_ready,
)

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.tracer,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]

SCRIPT = "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"
AGENTS = {"web-1": ["web", "eu-west"], "db-1": ["db", "eu-west"], "web-2": ["web"]}
GONE = "web-2"  # started, then stopped: listed offline
# Quicker than the defaults, so that the hosts are seen (and a run ends) within seconds.
FLEET_ENV = {
    "DTRACE_IDE_FLEET_HEARTBEAT_S": "0.5",
    "DTRACE_IDE_FLEET_HOST_LOST_S": "3",
    "DTRACE_IDE_FLEET_KEEPALIVE_S": "1",
}
PANEL = 'article.panel[data-name="@"]'


@dataclass
class Fleet:
    server: LiveServer
    tmp: Path
    agents: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def hosts(self) -> dict[str, bool]:
        status, body = self.server.request("GET", "/api/hosts")
        assert status == 200, body
        return {h["name"]: h["online"] for h in body["hosts"]}

    def wait_hosts(self, want: dict[str, bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while {n: self.hosts().get(n) for n in want} != want:
            logs = {n: self.agent_log(n) for n in self.agents}
            assert time.monotonic() < deadline, (self.hosts(), logs)
            time.sleep(0.2)

    def agent_log(self, name: str) -> str:
        return (self.tmp / f"agent-{name}.log").read_text(errors="replace")[-3000:]

    def stop_agent(self, name: str) -> None:
        proc = self.agents[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def start_agent(f: Fleet, broker: Broker, pub: Path, name: str, tags: list[str]) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **FLEET_ENV)
    env["DTRACE_IDE_DATA"] = str(f.tmp / f"data-{name}")
    tag_args = [arg for tag in tags for arg in ("--tag", tag)]
    f.agents[name] = subprocess.Popen(
        [sys.executable, "-m", "ide.cli", "agent", "--broker", broker.url(), "--name", name,
         "--fleet-key", str(pub), *tag_args],
        stdout=(f.tmp / f"agent-{name}.log").open("ab"), stderr=subprocess.STDOUT,
        env=env, cwd=ROOT,
    )  # fmt: skip


@pytest.fixture(scope="module")
def fleet(rabbitmq: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:  # noqa: F811
    pytest.importorskip("pika", reason="the fleet extra: pip install 'dtrace-ide[fleet]'")
    tmp = tmp_path_factory.mktemp("fleet-ui")
    key = tmp / "fleet.key"
    subprocess.run(
        [sys.executable, "-m", "ide.cli", "fleet-key", str(key)],
        check=True, capture_output=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    args = ("--broker", rabbitmq.url(), "--fleet-key", str(key))
    f = Fleet(start_server(tmp, *args, env=FLEET_ENV), tmp)
    try:
        for name, tags in AGENTS.items():
            start_agent(f, rabbitmq, Path(f"{key}.pub"), name, tags)
        f.wait_hosts(dict.fromkeys(AGENTS, True))
        f.stop_agent(GONE)
        f.wait_hosts({**dict.fromkeys(AGENTS, True), GONE: False})
        yield f
    finally:
        for name in f.agents:
            f.stop_agent(name)
        stop_server(f.server)


def docs_shot(page: Any, name: str, selector: str | None = None, docs: bool = True) -> None:
    """A picture for docs/screenshots/ (copied there with DTRACE_IDE_UPDATE_SCREENSHOTS=1),
    or with ``docs`` false for test-artifacts/ only."""
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    out = ARTIFACTS / "docs-screenshots" / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    if selector:
        page.locator(selector).screenshot(path=str(out))
    else:
        page.screenshot(path=str(out))
    if docs and os.environ.get("DTRACE_IDE_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(out, ROOT / "docs" / "screenshots" / out.name)


def row(host: str) -> str:
    return f'#hosts-list .host-row[data-host="{host}"]'


def count_text(page: Any) -> str:
    text: str = page.inner_text("#hosts-count")
    return text


def wait_count(page: Any, start: str) -> None:
    page.wait_for_function(
        f"() => document.querySelector('#hosts-count').textContent.startsWith({start!r})",
        timeout=RUN_TIMEOUT_MS,
    )


def chart_labels(page: Any) -> list[str]:
    """The text of the keys the panel of @ plots (pie labels, bar categories)."""
    labels: list[str] = page.evaluate(
        f"""() => {{
            const gd = document.querySelector('{PANEL} .chart');
            return gd.data.flatMap((d) => [...(d.labels || []), ...(d.y || []), ...(d.x || [])])
                .filter((v) => typeof v === "string");
        }}"""
    )
    return labels


def open_run_step(page: Any, server: LiveServer) -> None:
    page.goto(server.url)
    set_script(page, SCRIPT)
    wait_compiles(page)
    page.click("#next-write")
    page.wait_for_selector("#step-run:not([hidden])")
    page.wait_for_selector("#hosts-field:not([hidden])")


def test_the_run_step_lists_the_hosts_and_picks_them_by_tag_box_or_all(
    browser: Any, fleet: Fleet
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = context.new_page()
        open_run_step(page, fleet.server)
        page.wait_for_selector(f"{row('web-1')}:not(.offline)", timeout=RUN_TIMEOUT_MS)
        page.wait_for_selector(f"{row('db-1')}:not(.offline)")
        page.wait_for_selector(f"{row(GONE)}.offline")
        assert page.inner_text("#hosts-broker") == "Broker connected"
        assert "password" not in (page.get_attribute("#hosts-broker", "title") or "")
        web = page.inner_text(row("web-1"))
        assert "bpftrace" in web and "Linux" in web and "eu-west" in web and "seen" in web
        assert page.is_disabled(f"{row(GONE)} input")
        assert "offline" in page.inner_text(row(GONE))
        # A local run, as without a fleet, until hosts are picked.
        assert count_text(page).startswith("Only this server runs the script")

        page.click('#hosts-mode label:has(input[value="chosen"])')
        page.fill("#hosts-pattern", "tag:db")
        wait_count(page, "1 of 3 hosts will run this script")
        assert page.is_checked(f"{row('db-1')} input")
        assert not page.is_checked(f"{row('web-1')} input")
        # Ticking a box adds the host's name; the tag still holds db-1's box.
        page.check(f"{row('web-1')} input")
        assert page.input_value("#hosts-pattern") == "tag:db, web-1"
        wait_count(page, "2 of 3 hosts will run this script")
        assert page.is_disabled(f"{row('db-1')} input")
        page.fill("#hosts-pattern", "web-*")
        wait_count(page, "1 of 3 hosts will run this script")  # web-2 is offline
        # A tag pressed goes into the field.
        page.click(f'{row("db-1")} .host-tag:text-is("eu-west")')
        assert page.input_value("#hosts-pattern") == "web-*, tag:eu-west"
        wait_count(page, "2 of 3 hosts will run this script")

        page.click('#hosts-mode label:has(input[value="all"])')
        wait_count(page, "2 of 3 hosts will run this script")
        assert page.is_hidden("#hosts-pattern-row")
        page.click('#duration-presets label:has(input[value="custom"])')
        page.fill("#custom-duration", "3")
        docs_shot(page, "fleet-hosts", "#step-run")

        # A selection no online host matches is refused before it reaches the server.
        page.click('#hosts-mode label:has(input[value="chosen"])')
        page.fill("#hosts-pattern", "tag:nothing")
        wait_count(page, "0 of 3 hosts will run this script · nothing matches tag:nothing")
        page.click("#start-run")
        page.wait_for_selector("#run-error:not([hidden])")
        assert "No online host matches" in page.inner_text("#run-error")
        assert page.is_visible("#step-run")
    finally:
        context.close()


def test_a_fleet_with_no_host_yet_says_how_to_add_one(
    browser: Any,
    rabbitmq: Broker,  # noqa: F811
    fleet: Fleet,
) -> None:
    # A virtual host of its own: the fleet's agents are on the default one.
    rabbitmq.ctl("add_vhost", "lonely", check=False)
    rabbitmq.ctl("set_permissions", "-p", "lonely", "guest", ".*", ".*", ".*")
    key = fleet.tmp / "fleet.key"
    tmp = fleet.tmp / "lonely"
    tmp.mkdir()
    server = start_server(tmp, "--broker", rabbitmq.url(vhost="lonely"), "--fleet-key", str(key))
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = context.new_page()
        open_run_step(page, server)
        page.wait_for_selector("#hosts-empty:not([hidden])", timeout=RUN_TIMEOUT_MS)
        assert "dtrace-ide agent --broker URL --name NAME --fleet-key FILE.pub" in page.inner_text(
            "#hosts-empty"
        )
        assert page.inner_text("#hosts-broker") == "Broker connected"
        page.click('#hosts-mode label:has(input[value="all"])')
        wait_count(page, "No host has joined yet")
        page.click("#start-run")
        page.wait_for_selector("#run-error:not([hidden])")
        assert "No host is online" in page.inner_text("#run-error")
        docs_shot(page, "fleet-no-hosts", docs=False)
    finally:
        context.close()
        stop_server(server)


def test_a_run_on_all_online_hosts_shows_the_total_then_each_host(
    browser: Any, fleet: Fleet
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(fleet.server.url)
        set_script(page, SCRIPT)
        wait_compiles(page)
        page.click("#next-write")
        page.wait_for_selector(f"{row('db-1')}:not(.offline)", timeout=RUN_TIMEOUT_MS)
        page.click('#hosts-mode label:has(input[value="all"])')
        page.click('#duration-presets label:has(input[value="custom"])')
        page.fill("#custom-duration", "3")
        page.click("#start-run")
        page.wait_for_selector("#step-output:not([hidden]), #run-error:not([hidden])")
        assert page.is_hidden("#run-error"), page.inner_text("#run-error")
        run_id = page.get_attribute("#step-output", "data-run-id")
        assert run_id
        page.wait_for_selector("#host-strip:not([hidden])")
        assert page.is_visible("#host-view")
        assert wait_state(page, "finished", "failed") == "finished"

        # The total: one chart, the script's own keys.
        page.wait_for_selector(f"{PANEL} .chart .main-svg", timeout=RUN_TIMEOUT_MS)
        assert page.locator("#panels article.panel").count() == 1
        total = chart_labels(page)
        assert total and not any(label.startswith(("web-1, ", "db-1, ")) for label in total)

        page.click('#host-view label:has(input[value="by-host"])')
        page.wait_for_function(
            f"""() => {{
                const gd = document.querySelector('{PANEL} .chart');
                const text = gd?.data?.flatMap((d) => [...(d.labels || []), ...(d.y || [])]) || [];
                return ["web-1, ", "db-1, "].every(
                    (h) => text.some((v) => typeof v === "string" && v.startsWith(h)));
            }}""",
            timeout=RUN_TIMEOUT_MS,
        )
        assert page.locator("#panels article.panel").count() == 1
        for host in ("web-1", "db-1"):
            page.wait_for_selector(
                f'#host-chips .host-chip[data-host="{host}"][data-state="finished"]',
                timeout=RUN_TIMEOUT_MS,
            )
        assert page.locator("#host-chips .host-chip").count() == 2
        assert "finished" in page.inner_text('#host-chips .host-chip[data-host="web-1"]')
        docs_shot(page, "fleet-by-host")

        status, run = fleet.server.request("GET", f"/api/runs/{run_id}")
        assert status == 200 and run["fleet"] is True, run
        assert {h: s["state"] for h, s in run["hosts"].items()} == {
            "web-1": "finished",
            "db-1": "finished",
        }
        agg = next(a for a in run["snapshot"]["aggregations"] if a["name"] == "@")
        assert {r["key"][0] for r in agg["rows"]} == {"web-1", "db-1"}

        # Run again runs on the hosts this run ran on, though the form says this server now.
        page.click("#tab-run")
        page.click('#hosts-mode label:has(input[value="local"])')
        page.click("#tab-output")
        page.click("#run-again")
        page.wait_for_function(
            "(id) => ![id, undefined].includes(document.querySelector('#step-output')"
            ".dataset.runId)",
            arg=run_id,
            timeout=RUN_TIMEOUT_MS,
        )
        again = page.get_attribute("#step-output", "data-run-id")
        status, body = fleet.server.request("GET", f"/api/runs/{again}")
        assert status == 200 and body["fleet"] is True, body
        assert set(body["hosts"]) == {"web-1", "db-1"}
        assert page.is_checked('#hosts-mode input[value="chosen"]')
        assert wait_state(page, "finished", "failed") == "finished"
    finally:
        context.close()


def drill_row(page: Any, text: str) -> None:
    """Open the drill menu on the first table row of @ that holds ``text``."""
    page.locator(f'{PANEL} tr.drill-row:has-text("{text}")').first.click()
    page.wait_for_selector(".drill-menu .drill-item[data-mode='only']", timeout=RUN_TIMEOUT_MS)


def test_a_key_of_one_host_drills_down_into_a_run_on_that_host_alone(
    browser: Any, fleet: Fleet
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        open_run_step(page, fleet.server)
        page.wait_for_selector(f"{row('db-1')}:not(.offline)", timeout=RUN_TIMEOUT_MS)
        page.click('#hosts-mode label:has(input[value="all"])')
        page.click('#duration-presets label:has(input[value="custom"])')
        page.fill("#custom-duration", "3")
        page.click("#start-run")
        page.wait_for_selector("#host-strip:not([hidden])", timeout=RUN_TIMEOUT_MS)
        parent = page.get_attribute("#step-output", "data-run-id")
        assert wait_state(page, "finished", "failed") == "finished"
        page.click(f'{PANEL} button[data-mode="table"]')

        # The total: the script's own key, run on every host.
        page.wait_for_selector(f"{PANEL} tr.drill-row", timeout=RUN_TIMEOUT_MS)
        drill_row(page, "bpftrace")
        assert page.inner_text(".drill-menu .drill-key") == "bpftrace"
        assert page.inner_text(".drill-menu .drill-on") == "on every host of the run"
        page.keyboard.press("Escape")

        page.click('#host-view label:has(input[value="by-host"])')
        page.wait_for_selector(f'{PANEL} tr.drill-row:has-text("web-1")', timeout=RUN_TIMEOUT_MS)
        drill_row(page, "web-1")
        key = page.inner_text(".drill-menu .drill-key")
        assert key and "web-1" not in key  # the host is not a key of the script
        assert page.inner_text(".drill-menu .drill-on") == "on web-1"
        docs_shot(page, "fleet-drill")
        page.click(".drill-menu .drill-item[data-mode='only']:not([data-by])")
        page.wait_for_selector("#drill-dialog[open]", timeout=RUN_TIMEOUT_MS)
        assert "on web-1" in page.inner_text("#drill-dialog .drill-lead")
        added = page.locator("#drill-dialog .diff-added").all_inner_texts()
        assert any(f'comm == "{key}"' in line for line in added), added
        page.click("#drill-dialog button.btn-primary")
        page.wait_for_function(
            f"() => document.querySelector('#step-output').dataset.runId !== '{parent}'",
            timeout=RUN_TIMEOUT_MS,
        )
        child = page.get_attribute("#step-output", "data-run-id")
        page.wait_for_selector("#host-strip:not([hidden])", timeout=RUN_TIMEOUT_MS)
        assert wait_state(page, "finished", "failed") == "finished"
        page.wait_for_selector(
            '#host-chips .host-chip[data-host="web-1"][data-state="finished"]',
            timeout=RUN_TIMEOUT_MS,
        )
        assert page.locator("#host-chips .host-chip").count() == 1

        status, run = fleet.server.request("GET", f"/api/runs/{child}")
        assert status == 200 and run["fleet"] is True, run
        assert list(run["hosts"]) == ["web-1"]
        assert run["parent"] == parent and run["drill"]["key"] == [key]
        agg = next(a for a in run["snapshot"]["aggregations"] if a["name"] == "@")
        assert {tuple(r["key"]) for r in agg["rows"]} == {("web-1", key)}
    finally:
        context.close()


def test_a_lost_host_keeps_its_last_data_and_its_chip_says_so(
    browser: Any,
    rabbitmq: Broker,  # noqa: F811
    fleet: Fleet,
) -> None:
    start_agent(fleet, rabbitmq, fleet.tmp / "fleet.key.pub", "cache-1", ["cache"])
    fleet.wait_hosts({"cache-1": True})
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        open_run_step(page, fleet.server)
        page.wait_for_selector(f"{row('cache-1')}:not(.offline)", timeout=RUN_TIMEOUT_MS)
        page.click('#hosts-mode label:has(input[value="chosen"])')
        page.fill("#hosts-pattern", "cache-1 web-1")
        wait_count(page, "2 of 4 hosts will run this script")
        page.click('#duration-presets label:has(input[value="0"])')
        page.click("#start-run")
        page.wait_for_selector("#step-output:not([hidden])")
        page.click('#host-view label:has(input[value="by-host"])')
        for host in ("cache-1", "web-1"):
            page.wait_for_selector(
                f'#host-chips .host-chip[data-host="{host}"][data-state="online"]',
                timeout=RUN_TIMEOUT_MS,
            )
        page.wait_for_function(
            f"""() => {{
                const gd = document.querySelector('{PANEL} .chart');
                const text = gd?.data?.flatMap((d) => [...(d.labels || []), ...(d.y || [])]) || [];
                return text.some((v) => typeof v === "string" && v.startsWith("cache-1, "));
            }}""",
            timeout=RUN_TIMEOUT_MS,
        )
        fleet.agents["cache-1"].kill()  # no goodbye: lost once its heartbeats stop
        lost = '#host-chips .host-chip[data-host="cache-1"][data-state="lost"]'
        page.wait_for_selector(lost, timeout=RUN_TIMEOUT_MS)
        assert "lost — last data kept" in page.inner_text(lost)
        assert "last data it sent" in (page.get_attribute(lost, "title") or "")
        # Snapshots after the loss still hold its keys (the pie may put them in "other",
        # as web-1's counts grow past them).
        run_id = page.get_attribute("#step-output", "data-run-id")
        t_lost = fleet.server.request("GET", f"/api/runs/{run_id}")[1]["snapshot"]["t"]
        run = fleet.server.wait_run(run_id, lambda r: r["snapshot"]["t"] >= t_lost + 1.5)
        agg = next(a for a in run["snapshot"]["aggregations"] if a["name"] == "@")
        assert {r["key"][0] for r in agg["rows"]} == {"cache-1", "web-1"}
        assert run["hosts"]["cache-1"]["state"] == "lost"
        docs_shot(page, "fleet-lost", docs=False)
        page.click("#stop-run")
        assert wait_state(page, "stopped", "finished") in {"stopped", "finished"}
    finally:
        context.close()
        fleet.stop_agent("cache-1")
