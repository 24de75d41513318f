"""A real RabbitMQ broker for the fleet tests: Debian's rabbitmq-server, a node of its own.

The node runs from a temporary directory with its own name and ports, so it neither needs
nor disturbs a system broker, and the tests can stop and start it (a broker restart).
``./setup.sh test`` installs the package; the tests skip without it, except under CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

# The scripts behind /usr/sbin's wrappers, which would switch to the rabbitmq user: the
# node runs as the tests' user, in the tests' own (private) temporary directory.
SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
START_TIMEOUT_S = 90


def broker_ready() -> str | None:
    """Why no broker can be started here, or None when one can."""
    if not Path(SERVER).exists() or shutil.which(CTL) is None:
        return "rabbitmq-server is not installed (./setup.sh test installs it)"
    if os.geteuid() != 0:
        return "the fleet tests run as root, as the agents do"
    return None


def need_broker() -> None:
    why = broker_ready()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


class Broker:
    """One RabbitMQ node: ``url()`` for a user, ``ctl()`` to administer it, ``restart()``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.node = f"dtide{self.port}@localhost"
        self.proc: subprocess.Popen[bytes] | None = None
        (root / "mnesia").mkdir(parents=True, exist_ok=True)
        (root / "log").mkdir(exist_ok=True)
        (root / "enabled_plugins").write_text("[].\n")
        (root / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"  # the test users log in from 127.0.0.1 anyway
        )
        self.env = dict(
            os.environ,
            HOME=str(root),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(free_port()),
            RABBITMQ_MNESIA_BASE=str(root / "mnesia"),
            RABBITMQ_LOG_BASE=str(root / "log"),
            RABBITMQ_PID_FILE=str(root / "pid"),
            RABBITMQ_CONFIG_FILE=str(root / "rabbitmq"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(root / "enabled_plugins"),
        )

    def url(self, user: str = "guest", password: str = "guest", vhost: str = "%2F") -> str:
        return f"amqp://{user}:{password}@127.0.0.1:{self.port}/{vhost}"

    def ctl(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(
            [CTL, "-n", self.node, "-q", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and out.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {out.stderr or out.stdout}")
        return out.stdout

    def start(self) -> None:
        log = (self.root / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [SERVER], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("rabbitmq-server exited:\n" + self.log_tail())
            if self.ctl("await_startup", "--timeout", "5", check=False) == "" and self.up():
                return
            time.sleep(0.2)
        raise RuntimeError("rabbitmq-server did not start:\n" + self.log_tail())

    def up(self) -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is None:
            return
        self.ctl("stop", check=False)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def add_user(self, user: str, password: str) -> None:
        self.ctl("add_user", user, password)

    def log_tail(self) -> str:
        return (self.root / "server.log").read_text(errors="replace")[-4000:]


def started_broker(root: Path) -> Iterator[Broker]:
    need_broker()
    broker = Broker(root)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """The session's broker (guest may log in over loopback)."""
    yield from started_broker(tmp_path_factory.mktemp("rabbitmq"))
