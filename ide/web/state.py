"""The app's state: one typed object, built only in ``create_app``, read through ``state()``.

Everything a request needs beyond its own data — settings, backends, runs, the script
pipeline, the snippet store, the throttle, sessions, stream slots and the probe-list cache —
lives here, as flaskr keeps its database behind ``get_db``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

from ..archive.recorder import Recorder
from ..archive.store import DB_NAME as ARCHIVE_NAME
from ..archive.store import RunArchive
from ..config import Settings
from ..snippets.store import SnippetStore, data_dir
from ..tracing.pipeline import ScriptPipeline
from ..tracing.registry import Backends
from ..tracing.session import RunManager
from .limits import BadTokenThrottle, Sessions, StreamSlots

if TYPE_CHECKING:  # the fleet's modules need the fleet extra (pika, cryptography)
    from ..fleet.hub import FleetHub

KEY = "dtrace_ide"
# Per language: (when listed, full names, names without the module).
ProbeCache = dict[str, tuple[float, list[str], list[str]]]


@dataclass
class AppState:
    settings: Settings
    backends: Backends
    runs: RunManager
    pipeline: ScriptPipeline
    snippets: SnippetStore
    throttle: BadTokenThrottle
    sessions: Sessions
    streams: StreamSlots
    archive: RunArchive | None = None  # None when runs are not recorded (record_runs)
    fleet: FleetHub | None = None  # None without a broker (settings.broker)
    probe_cache: ProbeCache = field(default_factory=dict)
    probe_lock: threading.Lock = field(default_factory=threading.Lock)


def build_state(settings: Settings) -> AppState:
    from ..charts import PlotlyRenderer

    backends = Backends.for_settings(settings)
    archive = recorder = None
    if settings.record_runs:
        archive = RunArchive(data_dir(settings) / ARCHIVE_NAME)
        recorder = Recorder(archive, (settings.archive_max_bytes, settings.archive_max_age_s))
    runs = RunManager(settings, renderer=PlotlyRenderer(), recorder=recorder)
    fleet = None
    if settings.broker:
        from ..fleet.hub import FleetHub

        fleet = FleetHub.for_settings(settings)
    return AppState(
        fleet=fleet,
        settings=settings,
        backends=backends,
        runs=runs,
        archive=archive,
        pipeline=ScriptPipeline(settings, backends, runs),
        snippets=SnippetStore.for_settings(settings),
        throttle=BadTokenThrottle(
            settings.max_bad_tokens_per_minute, settings.max_bad_tokens_per_minute_all
        ),
        sessions=Sessions(settings.session_idle_s, settings.max_sessions),
        streams=StreamSlots(settings.max_websockets_per_run, settings.max_websockets),
    )


def state_of(app: Flask) -> AppState:
    s: AppState = app.extensions[KEY]
    return s


def state() -> AppState:
    """The state of the app handling this request."""
    return state_of(current_app)
