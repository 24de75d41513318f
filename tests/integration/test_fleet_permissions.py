"""The broker's users and permissions of docs/fleet.md, on a real RabbitMQ node.

The commands are read from the doc's own block ("The broker: users and permissions") and
applied as they are written there, so the doc and what is tested cannot drift apart; other
agents get the same commands with their name in place of ``web-1`` (dots escaped in the
expressions, as the doc says).  Then pika checks, as agent ``web-1``, that it can do its
part and is refused each thing that belongs to another host or to the server.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest

from ide.fleet import protocol
from ide.fleet.broker import declare_exchanges
from tests.broker import Broker, rabbitmq  # noqa: F401

DOC = Path(__file__).resolve().parents[2] / "docs" / "fleet.md"
SECTION = "## The broker: users and permissions"
THOUSAND = "## A thousand hosts"
AGENT = "web-1"  # the agent the doc's commands are written for
SERVER_QUEUE = protocol.SERVER_QUEUE_PREFIX + "0123456789ab"
ACCESS_REFUSED = 403
OWN_QUEUE = protocol.agent_queue(AGENT)
OTHERS_QUEUE = protocol.agent_queue("web-2")
CONTROL, DATA = protocol.CONTROL_EXCHANGE, protocol.DATA_EXCHANGE

Command = list[str]


def shell_commands(heading: str, verb: str) -> list[Command]:
    """The ``rabbitmqctl`` commands of the first shell block under ``heading`` that has a
    ``verb`` command, without the program's name, as a shell would split them (continued
    lines joined)."""
    text = DOC.read_text()
    section = text[text.index(heading) :]
    section = section[: section.index("\n## ", len(heading))] if "\n## " in section else section
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        commands = []
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "rabbitmqctl":
                commands.append(words[1:])
        if any(c[0] == verb for c in commands):
            return commands
    raise AssertionError(f"no shell block with rabbitmqctl {verb} under {heading!r} in {DOC}")


def documented_commands() -> list[Command]:
    return shell_commands(SECTION, "add_vhost")


def is_agents(command: Command) -> bool:
    return AGENT in command


def for_agent(command: Command, name: str) -> Command:
    """One of web-1's commands for another agent: its user name as it is, its name in the
    expressions with every dot escaped."""
    escaped = name.replace(".", r"\.")
    return [name if word == AGENT else word.replace(AGENT, escaped) for word in command]


@dataclass
class Fleet:
    broker: Broker
    vhost: str
    server_user: str = ""
    passwords: dict[str, str] = field(default_factory=dict)
    connections: list[pika.BlockingConnection] = field(default_factory=list)

    def apply(self, command: Command) -> None:
        words = list(command)
        if words[0] == "add_user":
            password = secrets.token_hex(24)  # the doc's "$..._PASSWORD"
            self.passwords[words[1]] = password
            if not self.server_user and not is_agents(words):
                self.server_user = words[1]
            words[2] = password
        self.broker.ctl(*words)

    def connect(self, user: str) -> pika.BlockingConnection:
        url = self.broker.url(user, self.passwords[user], self.vhost)
        connection = pika.BlockingConnection(pika.URLParameters(url))
        self.connections.append(connection)
        return connection


def channel(connection: pika.BlockingConnection) -> Any:
    """A channel whose publishes wait for the broker's answer, so a refusal is raised by
    the publish itself."""
    ch = connection.channel()
    ch.confirm_delivery()
    return ch


def join_as_agent(connection: pika.BlockingConnection, name: str) -> Any:
    """What an agent does on connecting (broker.py, agent.py): check that the exchanges are
    there (passively), declare its queue, bind it with its own key."""
    ch = channel(connection)
    declare_exchanges(ch, passive=True)
    queue = protocol.agent_queue(name)
    ch.queue_declare(queue, exclusive=True, auto_delete=True)
    ch.queue_bind(queue, CONTROL, protocol.agent_key(name))
    return ch


def refusal(connection: pika.BlockingConnection, action: Callable[[Any], object]) -> Any:
    ch = channel(connection)
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
        action(ch)
    return info.value


def drain(ch: Any, queue: str) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    while True:
        method, _props, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return out
        out.append((method.routing_key, body))


@pytest.fixture(scope="module")
def fleet(rabbitmq: Broker) -> Iterator[Fleet]:  # noqa: F811
    commands = documented_commands()
    (vhost,) = [c[1] for c in commands if c[0] == "add_vhost"]
    f = Fleet(rabbitmq, vhost)
    extra = ["web-2", "web-3", "db.1"]
    users = [c[1] for c in commands if c[0] == "add_user"] + extra

    def clean() -> None:
        rabbitmq.ctl("delete_vhost", vhost, check=False)
        for user in users:
            rabbitmq.ctl("delete_user", user, check=False)

    clean()
    for command in commands:
        f.apply(command)
    for name in extra:
        for command in filter(is_agents, commands):
            f.apply(for_agent(command, name))
    try:
        yield f
    finally:
        for connection in f.connections:
            if connection.is_open:
                connection.close()
        clean()


@pytest.fixture(scope="module")
def server(fleet: Fleet) -> Any:
    """The server's channel: the exchanges declared (broker.py's declare_exchanges), its
    queue declared and bound."""
    ch = channel(fleet.connect(fleet.server_user))
    declare_exchanges(ch)
    # Not auto_delete, as the server's is: here it is read with basic_get, not consumed.
    ch.queue_declare(SERVER_QUEUE, exclusive=True)
    for key in protocol.SERVER_BINDINGS:
        ch.queue_bind(SERVER_QUEUE, protocol.DATA_EXCHANGE, key)
    return ch


@pytest.fixture(scope="module")
def web1(fleet: Fleet, server: Any) -> pika.BlockingConnection:
    connection = fleet.connect(AGENT)
    join_as_agent(connection, AGENT)
    return connection


@pytest.fixture(scope="module")
def web2(fleet: Fleet, server: Any) -> pika.BlockingConnection:
    connection = fleet.connect("web-2")
    join_as_agent(connection, "web-2")
    return connection


def test_the_documented_block_has_the_server_and_one_agent() -> None:
    commands = documented_commands()
    verbs = [c[0] for c in commands]
    assert verbs.count("add_user") == 2
    assert verbs.count("set_permissions") == 2
    assert [c[4] for c in commands if c[0] == "set_topic_permissions"] == [
        protocol.CONTROL_EXCHANGE,
        protocol.DATA_EXCHANGE,
    ]
    assert len(list(filter(is_agents, commands))) == 4


def test_the_server_declares_the_exchanges_and_commands_an_agent(
    server: Any, web1: pika.BlockingConnection, web2: pika.BlockingConnection
) -> None:
    tag = server.basic_consume(SERVER_QUEUE, lambda *_: None)
    server.basic_cancel(tag)
    server.basic_publish(CONTROL, protocol.agent_key(AGENT), b"command 1")
    server.basic_publish(CONTROL, protocol.agent_key("web-2"), b"command 2")
    assert drain(channel(web1), OWN_QUEUE) == [("agent.web-1", b"command 1")]
    assert drain(channel(web2), OTHERS_QUEUE) == [("agent.web-2", b"command 2")]


def test_an_agent_consumes_its_own_queue(server: Any, web1: pika.BlockingConnection) -> None:
    ch = channel(web1)
    got: list[bytes] = []
    tag = ch.basic_consume(OWN_QUEUE, lambda _c, _m, _p, body: got.append(body), auto_ack=True)
    server.basic_publish(CONTROL, protocol.agent_key(AGENT), b"run")
    web1.process_data_events(time_limit=2)
    ch.basic_cancel(tag)
    assert got == [b"run"]


def test_an_agent_publishes_heartbeats_and_run_messages_under_its_own_name(
    server: Any, web1: pika.BlockingConnection
) -> None:
    drain(server, SERVER_QUEUE)
    beat = protocol.encode(protocol.Heartbeat(AGENT, 0.0))
    run = protocol.encode(protocol.RunMessage("r-1", AGENT, 1, {"type": "state"}))
    ch = channel(web1)
    ch.basic_publish(DATA, protocol.host_key(AGENT), beat)
    ch.basic_publish(DATA, protocol.run_key(AGENT), run)
    got = drain(server, SERVER_QUEUE)
    assert [key for key, _ in got] == ["host.web-1", "run.web-1"]
    decoded = [protocol.decode(body, key, 1 << 20) for key, body in got]
    assert [type(m).__name__ for m in decoded] == ["Heartbeat", "RunMessage"]


def _publish(exchange: str, key: str) -> Callable[[Any], object]:
    return lambda ch: ch.basic_publish(exchange, key, b"{}")


def _bind(queue: str, exchange: str, key: str) -> Callable[[Any], object]:
    return lambda ch: ch.queue_bind(queue, exchange, key)


REFUSED: dict[str, Callable[[Any], object]] = {
    "binding its queue with another agent's key": _bind(OWN_QUEUE, CONTROL, "agent.web-2"),
    "binding its queue with every agent's key": _bind(OWN_QUEUE, CONTROL, "agent.#"),
    "binding its queue to the hosts' messages": _bind(OWN_QUEUE, DATA, "run.#"),
    "declaring another agent's queue": lambda ch: ch.queue_declare(OTHERS_QUEUE, passive=False),
    "consuming another agent's queue": lambda ch: ch.basic_consume(OTHERS_QUEUE, print),
    "reading another agent's queue": lambda ch: ch.basic_get(OTHERS_QUEUE),
    "binding another agent's queue with its key": _bind(OTHERS_QUEUE, CONTROL, "agent.web-1"),
    "purging another agent's queue": lambda ch: ch.queue_purge(OTHERS_QUEUE),
    "consuming the server's queue": lambda ch: ch.basic_consume(SERVER_QUEUE, print),
    "publishing as another host, run": _publish(DATA, "run.web-2"),
    "publishing as another host, heartbeat": _publish(DATA, "host.web-2"),
    "publishing under no host": _publish(DATA, "run"),
    "publishing a command": _publish(CONTROL, "agent.web-2"),
    "publishing a command to itself": _publish(CONTROL, "agent.web-1"),
    "publishing straight to another agent's queue": _publish("", OTHERS_QUEUE),
    "declaring the exchanges": declare_exchanges,
    "deleting the control exchange": lambda ch: ch.exchange_delete(CONTROL),
}


@pytest.mark.parametrize("what", sorted(REFUSED))
def test_an_agent_is_refused_what_is_not_its_own(
    what: str, web1: pika.BlockingConnection, web2: pika.BlockingConnection
) -> None:
    closed = refusal(web1, REFUSED[what])
    assert closed.reply_code == ACCESS_REFUSED, closed
    assert closed.reply_text.startswith("ACCESS_REFUSED")


def test_refusals_deliver_nothing_to_another_agent(
    server: Any, web1: pika.BlockingConnection, web2: pika.BlockingConnection
) -> None:
    assert drain(channel(web2), OTHERS_QUEUE) == []
    assert [k for k, _ in drain(server, SERVER_QUEUE) if k.endswith("web-2")] == []


def test_the_server_may_not_publish_as_a_host(server: Any, fleet: Fleet) -> None:
    closed = refusal(fleet.connect(fleet.server_user), _publish(DATA, "run.web-1"))
    assert closed.reply_code == ACCESS_REFUSED


def test_a_dot_in_an_agents_name_matches_only_a_dot(fleet: Fleet, server: Any) -> None:
    connection = fleet.connect("db.1")
    ch = join_as_agent(connection, "db.1")
    ch.basic_publish(DATA, protocol.run_key("db.1"), b"{}")
    own = protocol.agent_queue("db.1")
    for action in (_publish(DATA, "run.db-1"), _bind(own, CONTROL, "agent.dbx1")):
        assert refusal(connection, action).reply_code == ACCESS_REFUSED


def test_guest_cannot_open_the_fleets_virtual_host(fleet: Fleet) -> None:
    url = fleet.broker.url("guest", "guest", fleet.vhost)
    with pytest.raises(pika.exceptions.AMQPConnectionError) as info:
        pika.BlockingConnection(pika.URLParameters(url))
    assert "NOT_ALLOWED" in str(info.value) or "access to vhost" in str(info.value)


def test_deleting_an_agents_user_closes_its_connection(fleet: Fleet, server: Any) -> None:
    connection = fleet.connect("web-3")
    join_as_agent(connection, "web-3")
    fleet.broker.ctl("delete_user", "web-3")
    with pytest.raises(pika.exceptions.ConnectionClosedByBroker):
        connection.process_data_events(time_limit=5)
        connection.channel()


def test_the_documented_policy_keeps_the_newest_messages_on_the_servers_queue(
    fleet: Fleet, server: Any, web1: pika.BlockingConnection
) -> None:
    (policy,) = shell_commands(THOUSAND, "set_policy")
    fleet.broker.ctl(*policy)
    limit = json.loads(policy[-1])["max-length"]
    queue = protocol.SERVER_QUEUE_PREFIX + "ffffffffffff"
    ch = channel(fleet.connect(fleet.server_user))
    ch.queue_declare(queue, exclusive=True)
    ch.queue_bind(queue, DATA, "run.#")
    agent = channel(web1)
    for n in range(limit + 10):
        agent.basic_publish(DATA, protocol.run_key(AGENT), str(n).encode())
    try:
        assert ch.queue_declare(queue, passive=True).method.message_count == limit
        assert ch.basic_get(queue, auto_ack=True)[2] == b"10"
    finally:
        server.queue_purge(SERVER_QUEUE)
        fleet.broker.ctl("clear_policy", "-p", fleet.vhost, policy[-3])
