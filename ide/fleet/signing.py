"""Signed run and stop commands: the server signs, each agent verifies before it acts.

A command is a ``Command`` (its kind, the run's id, when it was issued and expires, a nonce,
the agent it is for and a body), turned into canonical JSON bytes; the message on the wire
is ``{"v": 1, "key_id", "payload", "sig"}`` with the payload's exact bytes and the signature
in base64.  The agent checks the signature over those bytes before parsing them, so no
re-encoding ever decides what was signed.  docs/fleet.md describes it for operators.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import json
import math
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from cryptography.exceptions import InvalidSignature

from ..config import Settings
from .keys import SharedSecret, SigningKey, VerifyKey, key_id

VERSION = 1
CommandKind = Literal["run", "stop", "alive"]  # alive: the run goes on (keepalive)
Reason = Literal[
    "too_large",
    "unsigned",
    "malformed",
    "other_key",
    "bad_signature",
    "not_for_this_agent",
    "expired",
    "not_yet_valid",
    "replayed",
    "too_many_commands",
]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class Command(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the server asks of an agent.  ``agent`` is its name, or ``"*"`` for every agent;
    ``body`` is the run's request (language, script, duration, interval, options, ...)."""

    kind: CommandKind
    run_id: Text
    issued_at: float
    expires_at: float
    nonce: Text
    agent: Text
    body: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__struct_fields__}


class SignedMessage(msgspec.Struct, frozen=True):
    """The envelope.  Decoded straight into this shape (never into arbitrary JSON, which a
    deeply nested message would make costly); a missing field is empty, and refused."""

    v: int = 0
    key_id: str = ""
    payload: str = ""
    sig: str = ""


class Refused(Exception):
    """A command the agent will not carry out: ``reason`` is one of ``Reason``, ``message``
    says why in words an operator can act on.  ``run_id`` is the command's run once its
    signature held (then it is the server's word, worth telling it), else None."""

    def __init__(self, reason: Reason, message: str, run_id: str | None = None) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message
        self.run_id = run_id


def canonical_bytes(value: Mapping[str, Any]) -> bytes:
    """The one byte form of a command that is signed: JSON, keys sorted at every level, no
    spaces, UTF-8 as is; NaN and infinities are refused (JSON has no such numbers)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    """Strict base64: the only text that decodes is the one ``_b64`` makes of the bytes, so
    no second spelling of a message (spare padding bits, other characters) verifies."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Refused("malformed", f"the {what} is not base64") from None
    if _b64(data) != text:
        raise Refused("malformed", f"the {what} is not in canonical base64")
    return data


def _mac(secret: SharedSecret, payload: bytes) -> bytes:
    return hmac.new(secret.secret, payload, hashlib.sha256).digest()


class Signer:
    """The server's side: one key, commands good for ``fleet_command_ttl_s`` by default."""

    def __init__(self, key: SigningKey, settings: Settings | None = None) -> None:
        self._key = key
        self.key_id = key_id(key)
        self.default_ttl_s = (settings or Settings()).fleet_command_ttl_s

    def sign(
        self,
        kind: CommandKind,
        run_id: str,
        body: Mapping[str, Any],
        agent: str = "*",
        ttl: float | None = None,
        now: float | None = None,
    ) -> bytes:
        """The message to publish: the command, issued now, expiring ``ttl`` seconds on."""
        issued = time.time() if now is None else now
        ttl_s = self.default_ttl_s if ttl is None else ttl
        if not (ttl_s > 0 and math.isfinite(ttl_s)):
            raise ValueError(f"a command's ttl must be a positive number of seconds: {ttl_s}")
        command = Command(
            kind=kind,
            run_id=run_id,
            issued_at=round(issued, 3),
            expires_at=round(issued + ttl_s, 3),
            nonce=secrets.token_hex(16),
            agent=agent,
            body=dict(body),
        )
        return self.sign_command(command)

    def sign_command(self, command: Command) -> bytes:
        # The agent's own check, made here: what it would refuse is never signed.
        payload = canonical_bytes(msgspec.convert(command.to_dict(), Command).to_dict())
        if isinstance(self._key, SharedSecret):
            sig = _mac(self._key, payload)
        else:
            sig = self._key.sign(payload)
        wire = {"v": VERSION, "key_id": self.key_id, "payload": _b64(payload), "sig": _b64(sig)}
        return canonical_bytes(wire)


class Verifier:
    """An agent's side: refuses every command that the server's key did not sign for this
    agent within its validity, or that it has already seen.

    Clocks: a command counts as expired only ``fleet_clock_skew_s`` after its expiry, and as
    not yet valid only when issued more than that ahead of the agent's clock.  Nonces are
    remembered until then, so a replay is refused as replayed while the command is valid and
    as expired after; a command issued before this verifier was made (before the agent
    started, less the skew) is refused too, since a restarted agent remembers no nonces.
    """

    def __init__(
        self,
        key: VerifyKey,
        settings: Settings | None = None,
        *,
        started_at: float | None = None,
    ) -> None:
        s = settings or Settings()
        self._key = key
        self.key_id = key_id(key)
        self.skew_s = s.fleet_clock_skew_s
        self.max_bytes = s.fleet_max_command_bytes
        self.max_nonces = s.fleet_max_nonces
        self.started_at = time.time() if started_at is None else started_at
        self._nonces: dict[str, float] = {}  # nonce -> the time it may be forgotten
        self._forget: list[tuple[float, str]] = []  # a heap of the same
        self._lock = threading.Lock()

    @property
    def remembered(self) -> int:
        """How many nonces are held now (at most ``max_nonces``)."""
        return len(self._nonces)

    def verify(self, signed: bytes | str, now: float, agent: str) -> Command:
        """The command, or ``Refused``.  Checks run cheapest and least trusting first: size,
        shape, key, signature; the payload is parsed only once its signature holds."""
        if len(signed) > self.max_bytes:
            raise Refused("too_large", f"over {self.max_bytes} bytes: refused unread")
        data = signed.encode("utf-8") if isinstance(signed, str) else signed
        if len(data) > self.max_bytes:
            raise Refused("too_large", f"over {self.max_bytes} bytes: refused unread")
        message = self._envelope(data)
        payload = self._check_signature(message)
        try:
            command = msgspec.json.decode(payload, type=Command, strict=True)
        except (msgspec.DecodeError, RecursionError) as exc:
            raise Refused("malformed", f"the signed command is not one: {exc}") from None
        try:
            if command.agent not in ("*", agent):
                raise Refused(
                    "not_for_this_agent",
                    f"the command is for agent {command.agent!r}, not {agent!r}",
                )
            self._check_time(command, now)
            self._remember(command, now)
        except Refused as exc:
            exc.run_id = command.run_id
            raise
        return command

    def _envelope(self, data: bytes) -> SignedMessage:
        try:
            message = msgspec.json.decode(data, type=SignedMessage, strict=True)
        except (msgspec.DecodeError, RecursionError) as exc:
            raise Refused("malformed", f"the message is not a signed command: {exc}") from None
        if not message.sig:
            raise Refused("unsigned", "the message carries no signature")
        if message.v != VERSION:
            raise Refused("malformed", f"signed message version {message.v}; this agent reads 1")
        if not (message.key_id and message.payload):
            raise Refused("malformed", "the signed message has no key id or no payload")
        return message

    def _check_signature(self, message: SignedMessage) -> bytes:
        if message.key_id != self.key_id:
            raise Refused(
                "other_key",
                f"signed with another key ({message.key_id[:40]}); this agent's key is "
                f"{self.key_id}: give the server and the agents one key pair or secret",
            )
        payload = _unb64(message.payload, "payload")
        sig = _unb64(message.sig, "signature")
        if isinstance(self._key, SharedSecret):
            good = hmac.compare_digest(sig, _mac(self._key, payload))
        else:
            try:
                self._key.verify(sig, payload)
                good = True
            except InvalidSignature:
                good = False
        if not good:
            raise Refused("bad_signature", "the signature does not match the command")
        return payload

    def _check_time(self, command: Command, now: float) -> None:
        if not command.issued_at < command.expires_at:
            raise Refused("malformed", "the command expires before it is issued")
        if now > command.expires_at + self.skew_s:
            late = now - command.expires_at
            raise Refused("expired", f"the command expired {late:.1f} s ago")
        if command.issued_at > now + self.skew_s:
            ahead = command.issued_at - now
            raise Refused(
                "not_yet_valid",
                f"the command is issued {ahead:.1f} s in this agent's future: are the server's "
                f"and this host's clocks more than {self.skew_s:g} s apart?",
            )
        if command.issued_at < self.started_at - self.skew_s:
            raise Refused(
                "replayed",
                "the command was issued before this agent started, so it cannot tell whether "
                "it was carried out already",
            )

    def _remember(self, command: Command, now: float) -> None:
        with self._lock:
            while self._forget and self._forget[0][0] < now:
                _, nonce = heapq.heappop(self._forget)
                self._nonces.pop(nonce, None)
            if command.nonce in self._nonces:
                raise Refused("replayed", "this command has been received before")
            if len(self._nonces) >= self.max_nonces:
                raise Refused(
                    "too_many_commands",
                    f"{self.max_nonces} commands are still valid; more are refused until "
                    "some expire",
                )
            until = command.expires_at + self.skew_s
            self._nonces[command.nonce] = until
            heapq.heappush(self._forget, (until, command.nonce))
