"""Defaults, environment overrides and every server-side limit, in one place.

Each limit has a name here; the rest of the code reads it from ``Settings``.  Environment
variables ``DTRACE_IDE_<NAME>`` override any field (``DTRACE_IDE_MAX_SCRIPT_BYTES=...``).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from .tracing.model import Language

ENV_PREFIX = "DTRACE_IDE_"


@dataclass(frozen=True)
class TracerOptionCap:
    """A tracer option a run may set, with its bounds (bytes or per-second rates)."""

    name: str
    default: int
    maximum: int
    description: str
    languages: tuple[Language, ...]  # the languages whose tracer reads it
    unit: str  # "bytes", "per second" or "count"


BOTH: tuple[Language, ...] = ("d", "bpftrace")
# Options a user may set per run.  Values past ``maximum`` are clamped, never passed through.
TRACER_OPTIONS: tuple[TracerOptionCap, ...] = (
    TracerOptionCap(
        "bufsize", 4 << 20, 64 << 20, "principal buffer size per CPU (bytes)", BOTH, "bytes"
    ),
    TracerOptionCap(
        "aggsize", 4 << 20, 64 << 20, "aggregation buffer size per CPU (bytes)", ("d",), "bytes"
    ),
    TracerOptionCap("aggrate", 1, 100, "aggregation reads per second", ("d",), "per second"),
    TracerOptionCap("switchrate", 10, 100, "buffer switches per second", ("d",), "per second"),
    TracerOptionCap(
        "dynvarsize", 1 << 20, 32 << 20, "dynamic variable space (bytes)", ("d",), "bytes"
    ),
    TracerOptionCap(
        "max_map_keys",
        4096,
        65536,
        "entries per map (BPFTRACE_MAP_KEYS_MAX)",
        ("bpftrace",),
        "count",
    ),
    TracerOptionCap(
        "max_strlen", 64, 200, "string length (BPFTRACE_STRLEN)", ("bpftrace",), "bytes"
    ),
)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8400
    backend: str = "auto"  # auto | bpftrace | dtrace
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    allow_destructive: bool = False
    allowed_hosts: str = ""  # extra Host names accepted, comma-separated
    tls: bool = False
    data_dir: str = ""  # "" = platformdirs' per-user data directory
    bpftrace_path: str = "bpftrace"
    # Limits.
    max_script_bytes: int = 256 * 1024
    max_request_bytes: int = 512 * 1024
    # An exported run being imported (POST /api/runs/import): its body, and what it expands
    # to when gzipped (then no more than archive_max_bytes).
    max_import_bytes: int = 48 << 20
    max_runs_total: int = 8
    max_runs_per_client: int = 4
    max_duration_s: float = 24 * 3600.0
    max_unwatched_s: float = 3600.0  # "keep running" runs with no viewer end after this
    min_interval_s: float = 0.1
    max_interval_s: float = 3600.0
    max_rows_per_aggregation: int = 5000
    max_output_lines: int = 2000  # kept per run for late viewers and GET
    max_output_bytes_per_s: int = 1024 * 1024
    max_output_messages_per_s: int = 1000
    max_line_bytes: int = 64 * 1024  # one line of the script's output
    # One JSON line from the tracer: a whole map print (max_map_keys keys of max_strlen).
    max_tracer_line_bytes: int = 32 << 20
    max_history_snapshots: int = 600  # per run, for late viewers and time series
    viewer_queue_size: int = 64
    compile_timeout_s: float = 20.0
    max_concurrent_compiles: int = 2  # a D compile is a ~100 MB worker process
    stop_grace_s: float = 1.5  # SIGINT first, SIGKILL after this
    stop_on_disconnect_s: float = 1.0
    compile_cache_entries: int = 128
    probe_list_cache_s: float = 300.0
    tracer_memory_bytes: int = 2 << 30  # RLIMIT_AS of each tracer worker
    max_d_strsize: int = 4096  # largest `#pragma D option strsize=` a script may ask for
    # Wrong tokens in a minute, from one address and from all, before wrong tokens get 429s.
    # The right token is checked first and never refused because of them.
    max_bad_tokens_per_minute: int = 10
    max_bad_tokens_per_minute_all: int = 60
    # Sessions: one random secret per sign-in (the printed URL), kept on the server.
    session_idle_s: float = 12 * 3600.0  # a session unused this long is signed out
    max_sessions: int = 256  # the oldest-used is dropped past this
    # Connections (ide/web/worker.py).  A request is read whole by the event loop before a
    # thread sees it, so a slow or silent client holds a socket, never a thread.
    header_timeout_s: float = 5.0  # from connecting (or a kept-alive request's first byte)
    body_timeout_s: float = 15.0  # from the end of the headers to the end of the body
    keepalive_s: float = 5.0  # an idle kept-alive connection is closed after this
    send_timeout_s: float = 30.0  # a response, or one websocket message, must leave by then
    max_request_head_bytes: int = 32 * 1024  # request line and headers
    max_connections: int = 1000  # open at once; the oldest still being read goes first
    max_connections_per_address: int = 64  # from one client address, the same way
    max_buffered_request_bytes: int = 64 << 20  # requests read but not yet handled, in all
    request_threads: int = 32  # threads for whole requests, besides one per websocket
    max_websockets: int = 64  # live streams in all (each holds a thread)
    max_websockets_per_run: int = 8  # viewer links included
    max_viewer_link_s: float = 30 * 86400.0  # the longest a viewer link may be made to last
    # The archive (ide/archive): every run's record, in runs.sqlite beside the snippets.
    record_runs: bool = True
    archive_max_bytes: int = 512 << 20  # past this, the oldest unpinned records go first
    archive_max_age_s: float = 30 * 86400.0  # unpinned records older than this go
    # The fleet (ide/fleet, docs/fleet.md).  fleet_key is the server's FILE (private key or
    # shared secret) or an agent's FILE.pub (or the same secret), from `dtrace-ide fleet-key`.
    fleet_key: str = ""
    # A signed run or stop command is carried out only this long after the server signed it:
    # one that waited longer in a queue (a host that was down) is refused, never run late.
    fleet_command_ttl_s: float = 30.0
    # How far an agent's clock may be from the server's, either way, before a command is
    # taken as expired or as not valid yet.
    fleet_clock_skew_s: float = 10.0
    # A signed command as it arrives, refused before it is parsed when larger: a script of
    # max_script_bytes, JSON-escaped (up to 6x) and base64-encoded, still fits.
    fleet_max_command_bytes: int = 4 << 20
    # Commands an agent remembers (their nonces, until they expire) to refuse replays; when
    # that many are still valid, further ones are refused rather than forgotten.
    fleet_max_nonces: int = 4096
    # The broker (AMQP 0-9-1 URL, amqp:// or amqps://); empty: no fleet, nothing changes.
    broker: str = ""
    # An agent's name on the broker (its --name; the host name when empty) and its tags.
    fleet_name: str = ""
    fleet_tags: tuple[str, ...] = ()
    # Agents say they are there this often; the server lists a host as offline, and marks it
    # lost in a run, when nothing was heard from it for fleet_host_lost_s.
    fleet_heartbeat_s: float = 2.0
    fleet_host_lost_s: float = 10.0
    # The server tells the agents of each of its fleet runs that the run goes on this often;
    # an agent that hears nothing of a run for fleet_run_timeout_s stops its tracer (no
    # orphans when the server or the broker is gone).
    fleet_keepalive_s: float = 5.0
    fleet_run_timeout_s: float = 30.0
    # A message from an agent larger than this is dropped unread (a 1k-key snapshot is
    # about 40 KB; max_rows_per_aggregation rows of every map fit).
    fleet_max_message_bytes: int = 16 << 20
    # Hosts the server keeps track of, and hosts one fleet run may take.
    fleet_max_hosts: int = 1000
    # Reconnecting to a broker that went away waits 0.5 s, then twice as long each time, up
    # to this; messages to send meanwhile are kept up to fleet_max_pending (newest kept).
    fleet_reconnect_max_s: float = 10.0
    fleet_max_pending: int = 256

    @classmethod
    def from_env(cls, overrides: Mapping[str, Any] | None = None) -> Settings:
        """The defaults, then ``DTRACE_IDE_<NAME>`` variables, then ``overrides``.

        Variables are converted to each field's type by msgspec (booleans: true, false, 1
        or 0); one that does not convert is an error naming it, never a silent default.
        """
        env: dict[str, Any] = {
            f.name: _listed(raw) if str(f.type).startswith("tuple[") else raw
            for f in dataclasses.fields(cls)
            if (raw := os.environ.get(ENV_PREFIX + f.name.upper())) is not None
        }
        try:
            settings = msgspec.convert(env, cls, strict=False)
        except msgspec.ValidationError as exc:
            field_name = str(exc).rpartition("$.")[2].rstrip("`")
            raise ValueError(f"{ENV_PREFIX}{field_name.upper()}: {exc}") from exc
        return dataclasses.replace(settings, **(overrides or {}))


def _listed(raw: str) -> list[str]:
    """A list setting from its variable: comma-separated (``DTRACE_IDE_FLEET_TAGS=db,eu``)."""
    return [part.strip() for part in raw.split(",") if part.strip()]


def tracer_option(name: str) -> TracerOptionCap | None:
    return next((o for o in TRACER_OPTIONS if o.name == name), None)
