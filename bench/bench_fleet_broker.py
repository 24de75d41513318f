"""What a fleet run costs through a real broker: agents' snapshots over RabbitMQ, at 1 Hz,
into one server that decodes, merges and builds the panels every second.

    .venv/bin/python bench/bench_fleet_broker.py [--hosts 50] [--keys 1000] [--seconds 60]
                                                 [--url URL --broker-pid PID] [--json FILE]

Without ``--url`` it starts a RabbitMQ node of its own (tests/broker.py: Debian's
rabbitmq-server, its own name, ports and directory) and reads that node's CPU; with
``--url`` it uses the broker given, whose ``beam.smp`` process ``--broker-pid`` names.

Two processes, as on a real fleet the agents and the server are apart:

- the agents: ``--hosts`` simulated hosts in one process, each with its own connection
  (a ``BrokerLink``, as ``dtrace-ide agent`` has), each publishing once a second, spread
  over the second, the growing ``count()`` snapshot of ``--keys`` keys that
  bench_fleet_merge.py's ``Agent`` makes, as a ``RunMessage`` (``{"type": "snapshot",
  "snapshot": ...}``) with routing key ``run.NAME``, and a heartbeat every 2 s;
- the server (this process): one ``BrokerLink`` consuming the server queue, decoding each
  message (``protocol.decode``, then the snapshot) and offering it to a ``FleetMerge`` on
  the link's thread; every second the main thread merges the total view and builds its
  panels and JSON, as the server does for a watching page.

Measured after a warm-up, over ``--seconds``: message sizes; the server process's own CPU
(all its threads, ``time.process_time``) and its garbage collector's; the broker node's CPU
(utime + stime of its ``beam.smp`` in /proc), beside the same node idle with every
connection open, measured just before; latency from an agent's publish to the offer and to
the merge that first includes it; and merge + panels p95 (target <= 100 ms).  The baseline,
measured in this process after the broker part: the same snapshots, through the same JSON
and decoding, merged without the broker (bench_fleet_merge.py's intervals, which pay the
collector's debt before each); and bench_fleet_merge.py's own figure, whose snapshots are
built in-process and share their key strings.  ``--gc-threshold N`` sets the server's
first collector threshold, to see what the collector costs.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import msgspec
from _common import Figure, cpu_seconds, p95, rss_kb, table, write_json
from bench_fleet_merge import Agent, Fleet, panels_json

from ide.charts import History
from ide.config import Settings
from ide.fleet import protocol
from ide.fleet.broker import BrokerLink
from ide.fleet.merge import FleetMerge
from ide.tracing.model import Snapshot

RUN_ID = "bench"
SERVER_QUEUE = protocol.SERVER_QUEUE_PREFIX + "bench"
HEARTBEAT_EVERY = 2  # seconds, as fleet_heartbeat_s
IDLE_S = 10.0  # the broker with every connection open and nothing sent: its baseline
WARMUP_S = 5.0
SLACK_S = 3.0  # seconds of messages beyond the window, so the last merges have theirs


# --- the broker -----------------------------------------------------------------------------


@contextlib.contextmanager
def private_broker() -> Iterator[tuple[str, int]]:
    """A RabbitMQ node of the bench's own: its URL and its beam.smp's pid."""
    from tests.broker import Broker, broker_ready

    why = broker_ready()
    if why is not None:
        sys.exit(f"no broker: {why}; or give --url and --broker-pid")
    with tempfile.TemporaryDirectory(prefix="bench-broker-") as tmp:
        broker = Broker(Path(tmp))
        broker.start()
        try:
            pid = int((Path(tmp) / "pid").read_text().split()[0])
            yield broker.url(), pid
        finally:
            broker.stop()


def process_name(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


# --- the agents' process ----------------------------------------------------------------------


def agents_main(
    url: str,
    hosts: int,
    keys: int,
    steps: int,
    start_at: Any,
    ready: Any,
    sent: Any,
    costs: Any,
) -> None:
    """Publish every host's snapshot once a second from ``start_at`` (monotonic, which is
    one clock for every process) for ``steps`` seconds; ``sent[host * steps + seq - 1]``
    is when each was handed to its link."""
    agents = [Agent(n, keys, ("count",)) for n in range(hosts)]
    links = []
    for agent in agents:

        def setup(channel: Any, name: str = agent.name) -> str:
            queue = protocol.agent_queue(name)
            channel.queue_declare(queue, exclusive=True)
            channel.queue_bind(queue, protocol.CONTROL_EXCHANGE, protocol.agent_key(name))
            return queue

        link = BrokerLink(
            url,
            setup=setup,
            on_message=lambda _k, _b: None,
            name=agent.name,
            declares_exchanges=False,  # as an agent's: the server's link has declared them
        )
        links.append(link.start())
    for link in links:
        if not link.connected.wait(30):
            raise RuntimeError(f"an agent could not connect: {link.last_error}")
    ready.set()
    while start_at.value == 0.0:
        time.sleep(0.01)
    t0 = start_at.value
    encode_cpu, sizes = 0.0, 0
    for step in range(steps):
        for i, (agent, link) in enumerate(zip(agents, links, strict=True)):
            delay = t0 + step + i / hosts - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            snap = agent.snapshot(step)
            c0 = time.thread_time()
            body = message(agent.name, step, snap)
            encode_cpu += time.thread_time() - c0
            sizes += len(body)
            sent[i * steps + step] = time.monotonic()
            link.publish(
                protocol.DATA_EXCHANGE, protocol.run_key(agent.name), body, latest="snapshot"
            )
            if step % HEARTBEAT_EVERY == i % HEARTBEAT_EVERY:
                beat = protocol.Heartbeat(agent.name, time.time(), runs=[RUN_ID])
                link.publish(
                    protocol.DATA_EXCHANGE, protocol.host_key(agent.name), protocol.encode(beat)
                )
    costs[0], costs[1] = encode_cpu, float(sizes)
    time.sleep(1.0)  # the last ones leave
    for link in links:
        link.close()


# --- the server -------------------------------------------------------------------------------


@dataclass
class Arrival:
    host: int
    seq: int
    offered_at: float
    cpu_ms: float  # decode + snapshot + offer, on the link's thread


@dataclass
class ServerSide:
    names: list[str]
    steps: int
    sent: Any
    max_bytes: int = field(default_factory=lambda: Settings().fleet_max_message_bytes)

    def __post_init__(self) -> None:
        cap = Settings().max_rows_per_aggregation
        self.merge = FleetMerge(self.names, lost_after=3600.0, max_rows=cap)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.history = History()
        self.arrivals: list[Arrival] = []
        self.lock = threading.Lock()
        self.sizes: list[int] = []
        self.bad = 0
        self.heartbeats = 0

    def setup(self, channel: Any) -> str:
        channel.queue_declare(SERVER_QUEUE, exclusive=True)
        for key in protocol.SERVER_BINDINGS:
            channel.queue_bind(SERVER_QUEUE, protocol.DATA_EXCHANGE, key)
        return SERVER_QUEUE

    def on_message(self, routing_key: str, body: bytes) -> None:
        c0 = time.thread_time()
        try:
            message = protocol.decode(body, routing_key, self.max_bytes)
        except protocol.BadMessage:
            self.bad += 1
            return
        if isinstance(message, protocol.Heartbeat):
            self.merge.heard(message.name)
            self.heartbeats += 1
            return
        if not isinstance(message, protocol.RunMessage) or message.run_id != RUN_ID:
            return
        snap = msgspec.convert(message.msg["snapshot"], Snapshot)  # as decoded() does
        self.merge.offer(message.host, snap, seq=message.seq)
        arrival = Arrival(
            self.index[message.host],
            message.seq,
            time.monotonic(),
            (time.thread_time() - c0) * 1000,
        )
        with self.lock:
            self.arrivals.append(arrival)
            self.sizes.append(len(body))

    def tick(self) -> tuple[float, float, float, list[Arrival]]:
        """One second's merge + panels: wall ms, CPU ms, when it was done, what it had."""
        with self.lock:
            had, self.arrivals = self.arrivals, []
        w0, c0 = time.perf_counter(), time.thread_time()
        total = self.merge.total()
        panels_json(total.snapshot, self.history)
        wall, cpu = (time.perf_counter() - w0) * 1000, (time.thread_time() - c0) * 1000
        return wall, cpu, time.monotonic(), had


@dataclass
class Measured:
    hosts: int
    keys: int
    seconds: int
    tick_wall: list[float] = field(default_factory=list)
    tick_cpu: list[float] = field(default_factory=list)
    to_offer_ms: list[float] = field(default_factory=list)
    to_merged_ms: list[float] = field(default_factory=list)
    offer_cpu_ms: list[float] = field(default_factory=list)
    per_second_offer_cpu: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    received: int = 0
    published: int = 0
    server_cpu_pct: float = 0.0
    broker_cpu_pct: float = 0.0
    broker_idle_pct: float = 0.0
    broker_rss_kb: tuple[int, int] = (0, 0)
    agent_encode_ms: float = 0.0
    heartbeats: int = 0
    bad: int = 0
    gc_ms_per_s: float = 0.0
    gc_collections: list[int] = field(default_factory=lambda: [0, 0, 0])
    gc_threshold: tuple[int, ...] = ()


class CollectorClock:
    """CPU the garbage collector takes in this process (whichever thread it runs in: the
    collection runs in the thread that allocated past the threshold), while on."""

    def __init__(self) -> None:
        self.on = False
        self.ms = 0.0
        self.collections = [0, 0, 0]
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.thread_time()
        elif self.on:
            self.ms += (time.thread_time() - self._start) * 1000
            self.collections[info["generation"]] += 1


def run_broker(url: str, broker_pid: int, hosts: int, keys: int, seconds: int) -> Measured:
    warmup = int(WARMUP_S)
    steps = warmup + seconds + int(SLACK_S)
    ctx = multiprocessing.get_context("fork")  # before any link's thread starts
    sent = ctx.Array("d", hosts * steps, lock=False)
    costs = ctx.Array("d", 2, lock=False)
    start_at = ctx.Value("d", 0.0)
    ready = ctx.Event()
    names = [Agent(n, 1, ()).name for n in range(hosts)]
    server = ServerSide(names, steps, sent)
    link = BrokerLink(url, setup=server.setup, on_message=server.on_message, name="server")
    link.start()  # it declares the exchanges before any agent comes
    if not link.connected.wait(30):
        raise RuntimeError(f"the server could not connect: {link.last_error}")
    agents = ctx.Process(
        target=agents_main,
        args=(url, hosts, keys, steps, start_at, ready, sent, costs),
        daemon=True,
    )
    agents.start()
    if not ready.wait(60):
        raise RuntimeError("the agents did not connect")
    out = Measured(hosts, keys, seconds)
    out.broker_rss_kb = (rss_kb(broker_pid), 0)
    # The broker's baseline: every connection open, nothing sent.
    b0, i0 = cpu_seconds(broker_pid), time.monotonic()
    time.sleep(IDLE_S)
    out.broker_idle_pct = 100 * (cpu_seconds(broker_pid) - b0) / (time.monotonic() - i0)
    t0 = time.monotonic() + 0.5
    start_at.value = t0
    window: tuple[float, float, float] | None = None  # wall, server CPU, broker CPU
    collector = CollectorClock()
    for k in range(warmup + seconds + 1):
        # Merge half a second after the agents' second begins: hosts spread over it.
        delay = t0 + k + 0.5 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if k == warmup:
            window = (time.monotonic(), time.process_time(), cpu_seconds(broker_pid))
            collector.on = True
        wall, cpu, merged_at, had = server.tick()
        if k <= warmup:
            continue
        out.tick_wall.append(wall)
        out.tick_cpu.append(cpu)
        out.per_second_offer_cpu.append(sum(a.cpu_ms for a in had))
        for a in had:
            sent_at = sent[a.host * steps + a.seq - 1]
            out.to_offer_ms.append((a.offered_at - sent_at) * 1000)
            out.to_merged_ms.append((merged_at - sent_at) * 1000)
            out.offer_cpu_ms.append(a.cpu_ms)
        out.received += len(had)
    assert window is not None
    w1, s1, b1 = time.monotonic(), time.process_time(), cpu_seconds(broker_pid)
    collector.on = False
    out.gc_ms_per_s = collector.ms / (w1 - window[0])
    out.gc_collections, out.gc_threshold = collector.collections, gc.get_threshold()
    out.server_cpu_pct = 100 * (s1 - window[1]) / (w1 - window[0])
    out.broker_cpu_pct = 100 * (b1 - window[2]) / (w1 - window[0])
    out.broker_rss_kb = (out.broker_rss_kb[0], rss_kb(broker_pid))
    agents.join(SLACK_S + 30)
    link.close()
    out.published = hosts * steps
    out.agent_encode_ms = 1000 * costs[0] / (hosts * steps)
    with server.lock:
        out.sizes = server.sizes
    out.heartbeats, out.bad = server.heartbeats, server.bad
    return out


# --- the same merge without the broker ---------------------------------------------------------


def message(name: str, step: int, snapshot: Snapshot) -> bytes:
    """What the agents' process publishes for host ``name`` at ``step``."""
    msg = {"type": "snapshot", "snapshot": snapshot.to_dict()}
    return protocol.encode(protocol.RunMessage(RUN_ID, name, step + 1, msg))


def decoded(body: bytes, name: str) -> Snapshot:
    """What the server's link thread makes of a message, as ServerSide.on_message does."""
    message = protocol.decode(body, protocol.run_key(name), 1 << 30)
    assert isinstance(message, protocol.RunMessage)
    return msgspec.convert(message.msg["snapshot"], Snapshot)


class DecodedAgent(Agent):
    """bench_fleet_merge's host, whose snapshot (with ``decode``) goes through the
    message's JSON and back: its keys are then new objects in every snapshot, as a decoded
    message's are, where the simulation's snapshots share their key strings."""

    def __init__(self, n: int, keys: int, decode: bool) -> None:
        super().__init__(n, keys, ("count",))
        self.decode = decode
        self.decode_cpu_ms = 0.0  # since last read

    def snapshot(self, step: int) -> Snapshot:
        snap = super().snapshot(step)
        if not self.decode:
            return snap
        body = message(self.name, step, snap)
        c0 = time.thread_time()
        snap = decoded(body, self.name)
        self.decode_cpu_ms += (time.thread_time() - c0) * 1000
        return snap


def without_broker(
    hosts: int, keys: int, intervals: int, decode: bool, warmup: int = 3
) -> dict[str, list[float]]:
    """bench_fleet_merge.py's intervals (its Fleet: offers, both views, panels; the
    collector's debt paid before each), of the simulation's snapshots or decoded ones."""
    agents = [DecodedAgent(n, keys, decode) for n in range(hosts)]
    fleet = Fleet(list(agents))
    out: dict[str, list[float]] = {"decode cpu": []}
    for step in range(warmup + intervals):
        ms = fleet.interval(step)
        spent = sum(a.decode_cpu_ms for a in agents)
        for a in agents:
            a.decode_cpu_ms = 0.0
        if step >= warmup:
            out["decode cpu"].append(spent)
            for name, value in ms.items():
                out.setdefault(name, []).append(value)
    return out


def summed(samples: dict[str, list[float]], names: tuple[str, ...]) -> list[float]:
    return [sum(v) for v in zip(*(samples[n] for n in names), strict=True)]


def figures(
    m: Measured, base: dict[str, list[float]], built: dict[str, list[float]]
) -> list[Figure]:
    """``base``: the same decoded snapshots merged without the broker; ``built``: the
    simulation's own snapshots (bench_fleet_merge.py's figures)."""
    bench = f"fleet broker {m.hosts} x count() {m.keys:,} keys"
    if m.gc_threshold[0] != 700:
        bench += f", gc threshold {m.gc_threshold[0]:,}"
    base_cpu = summed(base, ("decode cpu", "offer cpu", "merge total cpu", "panels total cpu"))
    base_tick = summed(base, ("merge total", "panels total"))
    built_tick = summed(built, ("merge total", "panels total"))
    base_offer = [ms / m.hosts for ms in summed(base, ("decode cpu", "offer cpu"))]
    size = statistics.mean(m.sizes)
    json_size = len(Agent(0, m.keys, ("count",)).snapshot(1).to_json())
    out = [
        Figure(
            bench,
            "message, one snapshot",
            size,
            "B",
            json_size,
            size / json_size,
            note=f"min {min(m.sizes):,} B, max {max(m.sizes):,} B; baseline: the snapshot's "
            "own JSON (Snapshot.to_json), without the RunMessage envelope",
        ),
        Figure(
            bench,
            f"bytes per second into the server, {m.hosts} hosts",
            size * m.hosts,
            "B",
            note=f"{size * m.hosts * 8 / 1e6:.1f} Mbit/s; a real agent's heartbeat adds about "
            "0.5 KB every 2 s (the bench's are smaller)",
        ),
        Figure(
            bench,
            "server process CPU, % of a core",
            m.server_cpu_pct,
            "%",
            100 * statistics.mean(base_cpu) / 1000,
            m.server_cpu_pct / (100 * statistics.mean(base_cpu) / 1000),
            note="baseline: the same decoding, offers, merge and panels at 1 Hz without the "
            "broker, the collector's debt paid outside the timing; the difference is pika, "
            "the collector and sharing the CPUs",
        ),
        Figure(
            bench,
            "broker CPU (beam.smp), % of a core",
            m.broker_cpu_pct,
            "%",
            m.broker_idle_pct,
            note=f"baseline: the same node idle with all {m.hosts + 1} connections open; "
            f"RSS {m.broker_rss_kb[0] / 1024:.0f} MiB before, "
            f"{m.broker_rss_kb[1] / 1024:.0f} MiB after",
        ),
        Figure(
            bench,
            "publish -> offered p50",
            statistics.median(m.to_offer_ms),
            "ms",
            note=f"p95 {p95(m.to_offer_ms):.1f} ms: through the broker, decoded and offered",
        ),
        Figure(
            bench,
            "publish -> merged p50",
            statistics.median(m.to_merged_ms),
            "ms",
            note=f"p95 {p95(m.to_merged_ms):.0f} ms; the server merges once a second, so "
            "a snapshot waits for the next merge (0-1 s, 0.5 s on average)",
        ),
        Figure(
            bench,
            "decode + offer, one message, CPU p50",
            statistics.median(m.offer_cpu_ms),
            "ms",
            statistics.median(base_offer),
            note=f"p95 {p95(m.offer_cpu_ms):.2f} ms, on the link's thread, collections "
            f"included; baseline: the same without the broker; an agent's to_dict + encode: "
            f"{m.agent_encode_ms:.2f} ms a snapshot",
        ),
        Figure(
            bench,
            "the server's garbage collector, CPU ms a second",
            m.gc_ms_per_s,
            "ms",
            note=f"{m.gc_collections[0]:,} / {m.gc_collections[1]:,} / {m.gc_collections[2]:,} "
            f"collections of generation 0 / 1 / 2 in the window; thresholds {m.gc_threshold}",
        ),
        Figure(
            bench,
            "merge + panels (each second) p95",
            p95(m.tick_wall),
            "ms",
            p95(base_tick),
            target="<= 100",
            note=f"p50 {statistics.median(m.tick_wall):.1f} ms wall, CPU p95 "
            f"{p95(m.tick_cpu):.1f} ms; baseline: total + panels + JSON of the same decoded "
            f"snapshots without the broker (p50 {statistics.median(base_tick):.1f} ms); of "
            f"the simulation's own snapshots, whose keys are shared objects: p95 "
            f"{p95(built_tick):.1f} ms, p50 {statistics.median(built_tick):.1f} ms",
        ),
    ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--url", help="a broker's AMQP URL, whose user may declare the exchanges")
    ap.add_argument("--broker-pid", type=int, help="that broker's beam.smp process")
    ap.add_argument(
        "--gc-threshold",
        type=int,
        metavar="N",
        help="the server's first collector threshold (Python's default: 700)",
    )
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    if args.gc_threshold:
        gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
    if bool(args.url) != bool(args.broker_pid):
        ap.error("--url and --broker-pid go together")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    with contextlib.ExitStack() as stack:
        if args.url:
            url, pid = args.url, args.broker_pid
        else:
            url, pid = stack.enter_context(private_broker())
        if process_name(pid) != "beam.smp":
            sys.exit(f"process {pid} is {process_name(pid)!r}, not the broker's beam.smp")
        measured = run_broker(url, pid, args.hosts, args.keys, args.seconds)
    base = without_broker(args.hosts, args.keys, args.seconds, decode=True)
    built = without_broker(args.hosts, args.keys, args.seconds, decode=False)
    out = figures(measured, base, built)
    print(table(out), flush=True)
    print(
        f"\n{measured.received:,} snapshots merged in {len(measured.tick_wall)} s "
        f"({measured.published:,} published in all, {measured.heartbeats:,} heartbeats, "
        f"{measured.bad} refused); load average {os.getloadavg()[0]:.1f} at the end"
    )
    if args.json:
        write_json(args.json, out)


if __name__ == "__main__":
    main()
