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
    max_bad_tokens_per_minute: int = 10  # wrong tokens from one address before 429s

    @classmethod
    def from_env(cls, overrides: Mapping[str, Any] | None = None) -> Settings:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = os.environ.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _parse(f.type, raw)
        values.update(overrides or {})
        return cls(**values)


def _parse(kind: Any, raw: str) -> Any:
    kind = str(kind)
    if kind == "bool":
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    return raw


def tracer_option(name: str) -> TracerOptionCap | None:
    return next((o for o in TRACER_OPTIONS if o.name == name), None)
