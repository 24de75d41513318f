"""``dtrace-ide serve | check | run | translate | drill | fleet-key | agent``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

from .config import Settings
from .tracing.backend import BackendUnavailable
from .tracing.model import LANGUAGES, Aggregation, CompileResult, Language, Snapshot
from .tracing.pipeline import NoBackend, RunRequest, ScriptPipeline, ScriptRejected
from .tracing.registry import VIAS, Backends
from .tracing.session import RunManager
from .version import __version__

EXTENSIONS: dict[str, Language] = {".d": "d", ".bt": "bpftrace"}
VIA_HELP = "D: libdtrace, or translated to bpftrace (auto: libdtrace where it works)"


FLEET_EXTRA = "pip install 'dtrace-ide[fleet]'"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dtrace-ide", description=__doc__)
    parser.add_argument("--version", action="version", version=f"dtrace-ide {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the web IDE and print the URL to open")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8400)")
    serve.add_argument("--backend", choices=["auto", "bpftrace", "dtrace"], default=None)
    serve.add_argument(
        "--allow-destructive",
        action="store_true",
        default=None,
        help="allow destructive actions (system(), signal(), ...)",
    )
    serve.add_argument("--certfile", help="TLS certificate (PEM)")
    serve.add_argument("--keyfile", help="TLS private key (PEM)")
    serve.add_argument("--broker", default=None, help="a fleet: amqp(s)://USER:PASS@HOST/VHOST")
    serve.add_argument("--fleet-key", default=None, help="the key fleet commands are signed with")

    check = sub.add_parser("check", help="compile a script and print its diagnostics")
    check.add_argument("file")
    check.add_argument("--language", choices=list(LANGUAGES))
    check.add_argument("--json", action="store_true", help="print the API's JSON shape")
    check.add_argument("--via", choices=list(VIAS), default="auto", help=VIA_HELP)
    check.add_argument("--allow-destructive", action="store_true", help="as for serve")

    run = sub.add_parser("run", help="run a script headless and print its aggregations")
    run.add_argument("file")
    run.add_argument("--language", choices=list(LANGUAGES))
    run.add_argument("--duration", type=float, default=0, help="seconds (0: until Ctrl-C)")
    run.add_argument("--interval", type=float, default=1.0, help="seconds between snapshots")
    run.add_argument("--json", action="store_true", help="print NDJSON snapshots")
    run.add_argument("--via", choices=list(VIAS), default="auto", help=VIA_HELP)
    run.add_argument("--allow-destructive", action="store_true", help="as for serve")

    translate = sub.add_parser("translate", help="translate a D script to bpftrace and print it")
    translate.add_argument("file")
    translate.add_argument("--allow-destructive", action="store_true", help="as for serve")

    _drill_parser(sub)
    _fleet_key_parser(sub)
    _agent_parser(sub)

    args = parser.parse_args(argv)
    if args.command == "fleet-key":
        return cmd_fleet_key(args)
    if args.command == "agent":
        return cmd_agent(args)
    if args.command == "drill":
        return cmd_drill(args)
    if args.command == "translate":
        return cmd_translate(args)
    if args.command == "serve":
        return cmd_serve(args)
    if args.command == "check":
        return cmd_check(args)
    return cmd_run(args)


def _drill_parser(sub: Any) -> None:
    drill = sub.add_parser(
        "drill", help="print the script a drilldown on one key of an aggregation derives"
    )
    drill.add_argument("file")
    drill.add_argument("--language", choices=list(LANGUAGES))
    drill.add_argument("--aggregation", required=True, help="the aggregation clicked: @num")
    drill.add_argument(
        "--key", action="append", default=[], help="the clicked key; once per key component"
    )
    drill.add_argument("--by", default=None, help="break the key down by this field: pid")
    drill.add_argument("--mode", choices=["only", "exclude", "latency"], default="only")
    drill.add_argument("--diff", action="store_true", help="print the diff, not the script")
    drill.add_argument("--via", choices=list(VIAS), default="auto", help=VIA_HELP)
    drill.add_argument("--allow-destructive", action="store_true", help="as for serve")


def _fleet_key_parser(sub: Any) -> None:
    fleet_key = sub.add_parser(
        "fleet-key",
        help="make the key that signs fleet commands: FILE and FILE.pub, or one shared secret",
    )
    fleet_key.add_argument("file", help="where to write the key (mode 0600)")
    fleet_key.add_argument(
        "--shared-secret",
        action="store_true",
        help="one secret for the server and every agent, instead of an Ed25519 pair",
    )
    fleet_key.add_argument("--force", action="store_true", help="replace existing files")


def _agent_parser(sub: Any) -> None:
    agent = sub.add_parser(
        "agent", help="trace this host for a fleet: run the scripts the server sends, signed"
    )
    agent.add_argument(
        "--broker",
        default=None,
        metavar="URL",
        help="the broker, amqps://USER:PASS@HOST/VHOST (default: DTRACE_IDE_BROKER, which "
        "keeps the password off the command line)",
    )
    agent.add_argument("--name", default=None, help="this host in the fleet (default: host name)")
    agent.add_argument(
        "--fleet-key",
        default=None,
        metavar="FILE",
        help="the server's public key, FILE.pub from dtrace-ide fleet-key (or the shared "
        "secret); default: DTRACE_IDE_FLEET_KEY",
    )
    agent.add_argument(
        "--tag", action="append", default=None, help="a tag the server can pick hosts by; repeat"
    )
    agent.add_argument("--backend", choices=["auto", "bpftrace", "dtrace"], default=None)
    agent.add_argument(
        "--allow-destructive",
        action="store_true",
        default=None,
        help="allow destructive actions on this host (the server cannot turn this on)",
    )


# --- serve ---------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from .web.server import serve

    overrides: dict[str, Any] = {}
    for name in ("host", "port", "backend", "allow_destructive", "broker", "fleet_key"):
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    if args.certfile or args.keyfile:
        if not (args.certfile and args.keyfile):
            print("dtrace-ide: --certfile and --keyfile go together", file=sys.stderr)
            return 2
        overrides["tls"] = True
    settings = Settings.from_env(overrides)
    if settings.broker and (why := _fleet_refusal(settings)):
        print(f"dtrace-ide: {why}", file=sys.stderr)
        return 2
    return serve(settings, certfile=args.certfile, keyfile=args.keyfile)


def _fleet_refusal(settings: Settings) -> str | None:
    """Why the server cannot drive a fleet with these settings, before it starts."""
    try:
        from .fleet.hub import FleetHub
        from .fleet.keys import KeyFileError
    except ImportError as exc:
        return f"--broker needs the fleet extra ({exc.name} is missing): {FLEET_EXTRA}"
    try:
        FleetHub.for_settings(settings, start=False)
    except (KeyFileError, ValueError, OSError) as exc:
        return str(exc)
    return None


# --- check / run -----------------------------------------------------------------------------


def _load(args: argparse.Namespace) -> tuple[str, Language, ScriptPipeline] | int:
    path = Path(args.file)
    try:
        script = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"dtrace-ide: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    language: Language | None = args.language or EXTENSIONS.get(path.suffix)
    if language is None:
        print(f"dtrace-ide: say --language d or bpftrace for {path.name}", file=sys.stderr)
        return 2
    overrides: dict[str, Any] = {"token": "-", "max_unwatched_s": 10**9}
    if args.allow_destructive:
        overrides["allow_destructive"] = True
    settings = Settings.from_env(overrides)
    # The server's own pipeline: the same policy, gate and backends as the API.
    pipeline = ScriptPipeline(settings, Backends.for_settings(settings), RunManager(settings))
    return script, language, pipeline


def _print_diagnostics(file: str, result: CompileResult, stream: TextIO) -> None:
    for d in result.diagnostics:
        print(f"{file}:{d.line}:{d.column}: {d.severity}: {d.message}", file=stream)


def cmd_check(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    script, language, pipeline = loaded
    try:
        result = pipeline.compile(language, script, args.via)
    except (BackendUnavailable, NoBackend) as exc:
        print(f"dtrace-ide: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        _print_diagnostics(args.file, result, sys.stdout)
    return 0 if result.ok else 1


def cmd_translate(args: argparse.Namespace) -> int:
    """The bpftrace a D script becomes, or its errors (``FILE:LINE:COL: message``) and exit 1;
    warnings go to stderr either way.  Needs no tracer."""
    from .tracing.d2bpftrace import translate

    path = Path(args.file)
    try:
        script = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"dtrace-ide: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    result = translate(script, allow_destructive=args.allow_destructive)
    stream = sys.stdout if not result.ok else sys.stderr
    for d in result.diagnostics:
        print(f"{args.file}:{d.line}:{d.column}: {d.severity}: {d.message}", file=stream)
    if not result.ok:
        return 1
    sys.stdout.write(result.script)
    return 0


def cmd_drill(args: argparse.Namespace) -> int:
    """The derived script (checked by the tracer, as the server checks it), or why not as
    ``FILE:LINE:COL: error:`` lines and exit 1."""
    from .tracing.drilldown import DrillImpossible, Unreadable
    from .tracing.pipeline import DrillDoesNotCompile

    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    script, language, pipeline = loaded
    try:
        drill = pipeline.drill(
            language, script, args.aggregation, args.key, args.by, args.mode, args.via
        )
    except (BackendUnavailable, NoBackend) as exc:
        print(f"dtrace-ide: {exc}", file=sys.stderr)
        return 2
    except Unreadable as exc:
        d = exc.diagnostic
        print(f"{args.file}:{d.line}:{d.column}: error: {d.message}")
        return 1
    except DrillImpossible as exc:
        print(f"{args.file}: error: {exc.message}")
        return 1
    except DrillDoesNotCompile as exc:
        print(f"dtrace-ide: {exc}", file=sys.stderr)
        _print_diagnostics("drilldown", exc.result, sys.stdout)
        return 1
    sys.stdout.write(drill.diff if args.diff else drill.script)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    script, language, pipeline = loaded
    manager = pipeline.runs
    request = RunRequest(
        language,
        script,
        args.duration,
        args.interval,
        keep_running=True,
        client="cli",
        via=args.via,
    )
    try:
        run = pipeline.start(request)
    except ScriptRejected as exc:
        _print_diagnostics(args.file, exc.result, sys.stderr)
        return 1
    except (BackendUnavailable, NoBackend) as exc:
        print(f"dtrace-ide: {exc}", file=sys.stderr)
        return 2
    viewer = run.add_viewer()
    viewer.charts = False
    previous = signal.signal(signal.SIGINT, lambda *_: manager.stop(run, "user", wait=False))
    try:
        while True:
            msg = viewer.next_message(timeout=0.5)
            if msg is None:
                if viewer.closed:
                    break
                continue
            if args.json:
                print(json.dumps(msg), flush=True)
            elif msg["type"] == "output":
                for line in msg["lines"]:
                    print(line, flush=True)
            elif msg["type"] == "error":
                print(f"dtrace-ide: {msg['message']}", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, previous)
        manager.shutdown()
    if not args.json and run.snapshot is not None:
        print(format_snapshot(run.snapshot))
    if run.state == "failed":
        print(f"dtrace-ide: the tracer failed: {run.error}", file=sys.stderr)
        return 1
    return 0


# --- fleet-key -------------------------------------------------------------------------------


def cmd_fleet_key(args: argparse.Namespace) -> int:
    """Write the key, then say which file goes where; the key itself is never printed."""
    try:
        from .fleet.keys import KeyFileError, key_id, read_key, write_key_pair, write_shared_secret
    except ImportError as exc:
        print(f"dtrace-ide: {exc}: {FLEET_EXTRA}", file=sys.stderr)
        return 2
    path = Path(args.file)
    try:
        if args.shared_secret:
            secret = write_shared_secret(path, force=args.force)
            print(f"wrote {path}: a shared secret (mode 0600), key id {key_id(secret)}")
            server, agent = path, path
            print("copy it to each agent's host (mode 0600 there too); keep it secret everywhere")
        else:
            _, pub = write_key_pair(path, force=args.force)
            ident = key_id(read_key(pub))
            print(f"wrote {path}: an Ed25519 private key (mode 0600), key id {ident}")
            print(f"wrote {pub}: its public key, to copy to each agent's host")
            server, agent = path, pub
    except KeyFileError as exc:
        print(f"dtrace-ide: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"dtrace-ide: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"the server:  dtrace-ide serve --fleet-key {server} ...")
    print(f"each agent:  dtrace-ide agent --fleet-key {agent} ...")
    return 0


# --- agent -----------------------------------------------------------------------------------


def cmd_agent(args: argparse.Namespace) -> int:
    """Run until SIGTERM or SIGINT, then stop the runs, say bye and exit 0."""
    import logging
    import socket
    import threading

    try:
        from .fleet.agent import Agent
        from .fleet.broker import redact
        from .fleet.keys import load_verify_key
        from .fleet.protocol import check_name, valid_tag
        from .fleet.signing import Verifier
    except ImportError as exc:
        print(f"dtrace-ide: {exc}: pip install 'dtrace-ide[fleet]'", file=sys.stderr)
        return 2
    fields = {"broker": "broker", "name": "fleet_name", "fleet_key": "fleet_key"}
    fields.update(backend="backend", allow_destructive="allow_destructive")
    overrides: dict[str, Any] = {"token": "-"}
    overrides.update(
        {f: getattr(args, o) for o, f in fields.items() if getattr(args, o) is not None}
    )
    if args.tag:
        overrides["fleet_tags"] = tuple(args.tag)
    try:
        settings = Settings.from_env(overrides)
        name = check_name(settings.fleet_name or socket.gethostname())
        if settings.broker.partition("://")[0] not in {"amqp", "amqps"}:
            raise ValueError("say --broker amqps://USER:PASS@HOST/VHOST (or DTRACE_IDE_BROKER)")
        if not settings.fleet_key:
            raise ValueError("say --fleet-key FILE.pub, from dtrace-ide fleet-key on the server")
        bad = [t for t in settings.fleet_tags if not valid_tag(t)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a tag: letters, digits and . _ : = -")
        key = load_verify_key(Path(settings.fleet_key))  # KeyFileError is a ValueError
    except ValueError as exc:
        print(f"dtrace-ide agent: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format=f"dtrace-ide agent {name}: %(message)s")
    logging.getLogger("pika").setLevel(logging.CRITICAL)  # the link reports its failures
    where = redact(settings.broker)
    agent = Agent(
        settings,
        name,
        Verifier(key, settings),
        on_connected=lambda: print(f"dtrace-ide agent {name}: connected to {where}", flush=True),
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    agent.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        agent.close()
    return 0


# --- tables ----------------------------------------------------------------------------------


def _key(key: tuple[Any, ...]) -> str:
    return ", ".join(str(k) for k in key) if key else "(no key)"


def format_aggregation(agg: Aggregation) -> str:
    lines = [f"{agg.name}  {agg.function}()"]
    if agg.is_distribution:
        for row in sorted(agg.rows, key=lambda r: r.weight, reverse=True):
            lines.append(f"  {_key(row.key)}")
            buckets = row.buckets or ()
            peak = max((b.count for b in buckets), default=0) or 1
            for b in buckets:
                lo = "-inf" if b.lo is None else str(b.lo)
                hi = "inf" if b.hi is None else str(b.hi)
                bar = "@" * round(40 * b.count / peak)
                lines.append(f"    {lo:>12} .. {hi:<12} |{bar:<40} {b.count}")
    else:
        rows = sorted(agg.rows, key=lambda r: r.weight)
        width = max((len(_key(r.key)) for r in rows), default=0)
        for row in rows:
            lines.append(f"  {_key(row.key):<{width}}  {row.value}")
    if agg.total_rows is not None:
        lines.append(f"  ({agg.total_rows - len(agg.rows)} more rows not shown)")
    return "\n".join(lines)


def format_snapshot(snapshot: Snapshot) -> str:
    return "\n\n".join(format_aggregation(a) for a in snapshot.aggregations)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
