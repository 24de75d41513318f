"""What the server and the agents say to each other over the broker (docs/fleet.md).

Two topic exchanges, both declared by whichever side connects first:

- ``dtrace-ide.control``: the server's signed commands (``signing.py``), routing key
  ``agent.NAME``, into each agent's own queue ``dtrace-ide.agent.NAME``.
- ``dtrace-ide.data``: what agents send, routing key ``host.NAME`` (heartbeats, goodbyes,
  refused commands) or ``run.NAME`` (a run's messages), into the server's queue.

The host's name is in the routing key, where the broker's topic permissions can pin it to
the agent's own user; the server takes a message only when the name inside agrees with the
key.  Every message is one JSON object with a ``type``; a run's messages carry the run's
own stream messages (docs/protocol.md: state, output, error, note, snapshot) as they are.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

CONTROL_EXCHANGE = "dtrace-ide.control"
DATA_EXCHANGE = "dtrace-ide.data"
AGENT_QUEUE_PREFIX = "dtrace-ide.agent."
SERVER_QUEUE_PREFIX = "dtrace-ide.server."
SERVER_BINDINGS = ("host.#", "run.#")
# A host name as routing keys and queue names take it: letters, digits, dot, dash,
# underscore; at most 63 characters (a DNS label's length).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=-]{0,62}")


class BadMessage(ValueError):
    """A message that is not one of the fleet's, or too large; it is dropped."""


def valid_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def valid_tag(tag: str) -> bool:
    return _TAG.fullmatch(tag) is not None


def check_name(name: str) -> str:
    if not valid_name(name):
        raise ValueError(
            f"{name!r} is not a host name the fleet takes: letters, digits, '.', '-' and '_', "
            "starting with a letter or digit, at most 63 characters"
        )
    return name


def agent_queue(name: str) -> str:
    return AGENT_QUEUE_PREFIX + name


def agent_key(name: str) -> str:
    return "agent." + name


def host_key(name: str) -> str:
    return "host." + name


def run_key(name: str) -> str:
    return "run." + name


def sender_of(routing_key: str) -> str | None:
    """The host name a data message's routing key names, or None for another key."""
    kind, _, name = routing_key.partition(".")
    return name if kind in {"host", "run"} and valid_name(name) else None


class BackendInfo(msgspec.Struct, frozen=True):
    name: str
    language: str
    available: bool
    version: str | None = None


class Heartbeat(msgspec.Struct, frozen=True, tag_field="type", tag="heartbeat"):
    """An agent is there: what it is and can do.  Sent every ``fleet_heartbeat_s``."""

    name: str
    sent_at: float  # the agent's clock, seconds since the epoch
    os: str = ""
    version: str = ""
    backends: list[BackendInfo] = []
    tags: list[str] = []
    limits: dict[str, Any] = {}
    runs: list[str] = []  # the server runs it is tracing for now
    allow_destructive: bool = False


class Bye(msgspec.Struct, frozen=True, tag_field="type", tag="bye"):
    """An agent leaves on purpose (stopped by its service manager)."""

    name: str


class CommandRefused(msgspec.Struct, frozen=True, tag_field="type", tag="refused"):
    """An agent did not carry out a command: ``reason`` as ``signing.Reason``."""

    name: str
    reason: str
    message: str
    run_id: str | None = None  # only once the signature held: otherwise anyone's claim


class RunMessage(msgspec.Struct, frozen=True, tag_field="type", tag="run"):
    """One of a run's stream messages (``msg``), from the agent tracing it for ``run_id``.
    ``seq`` counts the agent's messages of the run, from 1."""

    run_id: str
    host: str
    seq: int
    msg: dict[str, Any]


HostMessage = Heartbeat | Bye | CommandRefused | RunMessage

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(HostMessage)


def encode(message: HostMessage) -> bytes:
    return _encoder.encode(message)


def decode(body: bytes, routing_key: str, max_bytes: int) -> HostMessage:
    """The message an agent sent, checked against the name in its routing key."""
    if len(body) > max_bytes:
        raise BadMessage(f"{len(body)} bytes, over fleet_max_message_bytes ({max_bytes})")
    sender = sender_of(routing_key)
    if sender is None:
        raise BadMessage(f"routing key {routing_key!r} names no host")
    try:
        message = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise BadMessage(f"not a fleet message: {exc}") from exc
    said = message.host if isinstance(message, RunMessage) else message.name
    if said != sender:
        raise BadMessage(f"a message from {sender!r} says it is from {said!r}")
    if isinstance(message, RunMessage) != routing_key.startswith("run."):
        raise BadMessage(f"a {type(message).__name__} under routing key {routing_key!r}")
    return message
