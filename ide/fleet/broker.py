"""One connection to the broker that comes back when the broker does.

A ``BrokerLink`` owns one pika ``BlockingConnection`` on one thread of its own: it
connects, declares the fleet's exchanges and its queue (``setup``), consumes, and sends
what other threads hand to ``publish``.  When the broker goes away (restarted, the network
cut) it waits 0.5 s, then twice as long each time up to ``fleet_reconnect_max_s`` (with a
little jitter, so many agents do not all come back in the same instant), and does it all
again.  Meanwhile at most ``fleet_max_pending`` messages wait to be sent; a message
published with a ``latest`` name replaces the unsent one of that name (a host's newest
snapshot is worth more than an old one), and past the cap the oldest go.

Nothing here blocks the callers: ``publish`` only queues, and ``on_message`` runs on the
link's thread, so it must be quick (hand heavy work to another thread).
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from .protocol import CONTROL_EXCHANGE, DATA_EXCHANGE

log = logging.getLogger(__name__)

FIRST_RETRY_S = 0.5
# pika's AMQP heartbeat: a broker or peer gone silent is noticed within about twice this.
AMQP_HEARTBEAT_S = 10
CONNECT_TIMEOUT_S = 5.0
# How long the link's thread waits for the socket before it looks for messages to send
# (publish wakes it at once; this only bounds how late a close is seen).
IDLE_WAIT_S = 1.0

OnMessage = Callable[[str, bytes], None]  # (routing key, body)
Setup = Callable[[BlockingChannel], str]  # declares, returns the queue to consume


@dataclass(frozen=True)
class Outgoing:
    exchange: str
    routing_key: str
    body: bytes
    expiration_ms: int | None = None  # dropped by the broker if not delivered by then


def declare_exchanges(channel: BlockingChannel, *, passive: bool = False) -> None:
    """The fleet's two topic exchanges (durable: they outlive a broker restart).  The server
    declares them; an agent, whose broker user may not configure them, only checks that they
    are there (``passive``: refused with NOT_FOUND until the server has connected once)."""
    for name in (CONTROL_EXCHANGE, DATA_EXCHANGE):
        channel.exchange_declare(name, exchange_type="topic", durable=True, passive=passive)


def parameters(url: str) -> pika.URLParameters:
    """The connection's parameters: the URL's, with our heartbeat and timeouts."""
    params = pika.URLParameters(url)
    params.heartbeat = AMQP_HEARTBEAT_S
    params.blocked_connection_timeout = 30
    params.socket_timeout = CONNECT_TIMEOUT_S
    params.connection_attempts = 1
    params.client_properties = {"connection_name": "dtrace-ide"}
    return params


def redact(url: str) -> str:
    """The URL with its password left out, for logs and messages."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at:
        return url
    user = creds.partition(":")[0]
    return f"{scheme}{sep}{user}:***@{host}"


class BrokerLink:
    def __init__(
        self,
        url: str,
        *,
        setup: Setup,
        on_message: OnMessage,
        on_state: Callable[[bool], None] | None = None,
        reconnect_max_s: float = 10.0,
        max_pending: int = 256,
        name: str = "broker",
        declares_exchanges: bool = True,
    ) -> None:
        self.url = url
        self._params = parameters(url)
        self._setup = setup
        self._on_message = on_message
        self._on_state = on_state
        self.declares_exchanges = declares_exchanges
        self.reconnect_max_s = reconnect_max_s
        self.max_pending = max_pending
        self._pending: OrderedDict[object, Outgoing] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._thread = threading.Thread(target=self._run, name=f"fleet-{name}", daemon=True)
        self.connected = threading.Event()
        self.down_since: float | None = time.monotonic()  # None while connected
        self.connects = 0  # how many times it has connected (1 + reconnects)
        self.dropped = 0  # messages dropped unsent (over max_pending)
        self.last_error: str | None = None

    # --- the callers' side ----------------------------------------------------------------

    def start(self) -> BrokerLink:
        self._thread.start()
        return self

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        latest: object | None = None,
        expiration_ms: int | None = None,
    ) -> None:
        """Queue a message to send as soon as the link is up; never blocks."""
        out = Outgoing(exchange, routing_key, body, expiration_ms)
        with self._lock:
            key: object = latest if latest is not None else object()
            self._pending.pop(key, None)
            self._pending[key] = out
            while len(self._pending) > self.max_pending:
                self._pending.popitem(last=False)
                self.dropped += 1
            connection = self._connection
        if connection is not None:
            # Closed meanwhile: it is sent after the next connect.
            with contextlib.suppress(Exception):
                connection.add_callback_threadsafe(self._flush)

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (for a moment), then close the connection and the thread."""
        self._closed.set()
        with self._lock:
            connection = self._connection
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.add_callback_threadsafe(lambda: None)  # wake it
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    # --- the link's thread ------------------------------------------------------------------

    def _run(self) -> None:
        delay = FIRST_RETRY_S
        while not self._closed.is_set():
            try:
                self._session()
                delay = FIRST_RETRY_S
            except Exception as exc:  # pika raises many kinds; all mean "try again later"
                self.last_error = f"{type(exc).__name__}: {exc}"
                # Some say nothing in words (a refused connection): then their kind does.
                why = str(exc) or type(exc).__name__
                log.warning("broker %s: %s; again in %.1f s", redact(self.url), why, delay)
            self._went_down()
            if self._closed.wait(delay * random.uniform(0.8, 1.2)):
                break
            delay = min(delay * 2, self.reconnect_max_s)

    def _session(self) -> None:
        connection = pika.BlockingConnection(self._params)
        try:
            channel = connection.channel()
            declare_exchanges(channel, passive=not self.declares_exchanges)
            queue = self._setup(channel)
            channel.basic_consume(queue, self._delivered, auto_ack=True)
            with self._lock:
                self._connection = connection
            self._channel = channel
            self.connects += 1
            self.last_error = None
            self.down_since = None
            self.connected.set()
            self._tell(True)
            self._flush()
            while not self._closed.is_set():
                connection.process_data_events(time_limit=IDLE_WAIT_S)
            self._flush()
        finally:
            with self._lock:
                self._connection = None
            if connection.is_open:
                with contextlib.suppress(Exception):
                    connection.close()

    def _went_down(self) -> None:
        if self.connected.is_set():
            self.connected.clear()
            self.down_since = time.monotonic()
            self._tell(False)

    def _tell(self, up: bool) -> None:
        if self._on_state is not None:
            try:
                self._on_state(up)
            except Exception:
                log.exception("broker link: the state callback failed")

    def _flush(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    return
                key, out = next(iter(self._pending.items()))
            assert self._channel is not None
            props = pika.BasicProperties(
                content_type="application/json",
                expiration=str(out.expiration_ms) if out.expiration_ms is not None else None,
            )
            # Sent before it leaves the queue: a failure keeps it for the next connection.
            self._channel.basic_publish(out.exchange, out.routing_key, out.body, props)
            with self._lock:
                if self._pending.get(key) is out:
                    del self._pending[key]

    def _delivered(self, _ch: Any, method: Any, _props: Any, body: bytes) -> None:
        try:
            self._on_message(method.routing_key, body)
        except Exception:
            log.exception("broker link: a message's handler failed")
