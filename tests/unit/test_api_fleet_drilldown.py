"""A drilldown of a fleet run, through the API with a hub that has no broker under it: it is
a fleet run itself, on the parent's hosts that are online, or on the hosts it names; a
drilldown of a local run that names hosts is a fleet run of the derived script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from ide.fleet.hub import FleetHub
from ide.fleet.protocol import Heartbeat
from ide.fleet.signing import Signer
from ide.web.state import state_of
from tests.unit.test_api_drilldown import SCRIPT, app_with, post

INFO = {"aggregation": "@num", "key": ["dd"], "by": "pid", "mode": "only"}


def fleet_app(tmp_path: Path, *hosts: str) -> tuple[Flask, FleetHub]:
    app = app_with(tmp_path)
    s = state_of(app)
    hub = FleetHub(s.settings, Signer(Ed25519PrivateKey.generate()), start=False)
    hub.send = lambda *a, **kw: None  # type: ignore[method-assign]  # no broker to send to
    for name in hosts:
        hub.directory.heard(Heartbeat(name=name, sent_at=0.0))
    s.fleet = hub
    return app, hub


def start(app: Flask, **extra: Any) -> dict[str, Any]:
    status, body = post(app, "/api/runs", {"language": "bpftrace", "script": SCRIPT} | extra)
    assert status == 201, body
    return body


def test_a_drilldown_of_a_fleet_run_runs_on_its_hosts_that_are_online(tmp_path: Path) -> None:
    app, hub = fleet_app(tmp_path, "web-1", "web-2", "db-1")
    parent = start(app, hosts=["web-*", "db-1"])
    assert sorted(parent["hosts"]) == ["db-1", "web-1", "web-2"]
    hub.directory.bye("db-1")
    child = start(app, parent=parent["id"], drill=INFO)
    assert child["fleet"] is True
    assert sorted(child["hosts"]) == ["web-1", "web-2"]
    assert (child["parent"], child["drill"]) == (parent["id"], INFO)
    got = app.test_client().get(f"/api/runs/{child['id']}", headers={"Authorization": "Bearer t"})
    assert got.get_json()["drill"] == INFO


def test_a_drilldown_of_a_fleet_run_that_names_hosts_runs_on_those(tmp_path: Path) -> None:
    app, _ = fleet_app(tmp_path, "web-1", "web-2")
    parent = start(app, hosts="*")
    child = start(app, parent=parent["id"], drill=INFO, hosts=["web-1"])
    assert list(child["hosts"]) == ["web-1"]
    assert child["parent"] == parent["id"]


def test_a_drilldown_of_a_fleet_run_whose_hosts_are_all_gone_is_refused(tmp_path: Path) -> None:
    app, hub = fleet_app(tmp_path, "web-1", "web-2")
    parent = start(app, hosts=["web-1"])
    hub.directory.bye("web-1")
    status, body = post(
        app,
        "/api/runs",
        {"language": "bpftrace", "script": SCRIPT, "parent": parent["id"], "drill": INFO},
    )
    assert status == 409 and body["error"]["code"] == "no_hosts"
    assert "no online host matches web-1" in body["error"]["message"]


def test_a_drilldown_of_a_local_run_runs_here_or_on_the_hosts_it_names(tmp_path: Path) -> None:
    app, _ = fleet_app(tmp_path, "web-1", "web-2")
    parent = start(app)
    assert "fleet" not in parent
    here = start(app, parent=parent["id"], drill=INFO)
    assert "fleet" not in here
    there = start(app, parent=parent["id"], drill=INFO, hosts=["web-2"])
    assert there["fleet"] is True and list(there["hosts"]) == ["web-2"]
