"""Signed fleet commands: what the server signs, an agent carries out, and every forgery it
refuses, with the reason it gives."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ide.cli import main
from ide.config import Settings
from ide.fleet.keys import SharedSecret, SigningKey, VerifyKey, load_signing_key, load_verify_key
from ide.fleet.signing import Command, Refused, Signer, Verifier, canonical_bytes

NOW = 1_800_000_000.0
BODY: dict[str, Any] = {
    "language": "bpftrace",
    "script": "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }",
    "duration": 3,
    "interval": 1.0,
    "options": {},
}
SETTINGS = Settings(token="-")
SKEW = SETTINGS.fleet_clock_skew_s
TTL = SETTINGS.fleet_command_ttl_s


def ed25519_pair() -> tuple[SigningKey, VerifyKey]:
    private = Ed25519PrivateKey.generate()
    return private, private.public_key()


def secret_pair() -> tuple[SigningKey, VerifyKey]:
    secret = SharedSecret.generate()
    return secret, secret


PAIRS = [pytest.param(ed25519_pair, id="ed25519"), pytest.param(secret_pair, id="secret")]


def verifier(key: VerifyKey, settings: Settings = SETTINGS) -> Verifier:
    return Verifier(key, settings, started_at=NOW - 60)


def refused(v: Verifier, message: bytes | str, now: float = NOW, agent: str = "web1") -> Refused:
    with pytest.raises(Refused) as info:
        v.verify(message, now, agent)
    return info.value


def rewrap(message: bytes, **changes: Any) -> bytes:
    """The signed message with fields of the envelope replaced."""
    wire = json.loads(message)
    wire.update(changes)
    return json.dumps(wire).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- what verifies -------------------------------------------------------------------------


@pytest.mark.parametrize("make", PAIRS)
def test_a_command_signed_with_the_servers_key_is_carried_out(make: Any) -> None:
    private, public = make()
    signed = Signer(private, SETTINGS).sign("run", "run-1", BODY, now=NOW)
    command = verifier(public).verify(signed, NOW + 1, "web1")
    assert (command.kind, command.run_id, command.agent, command.body) == (
        "run",
        "run-1",
        "*",
        BODY,
    )
    assert command.expires_at == NOW + TTL


def test_a_command_for_one_agent_is_carried_out_by_that_agent_only() -> None:
    private, public = ed25519_pair()
    signed = Signer(private, SETTINGS).sign("stop", "run-1", {}, agent="web2", now=NOW)
    assert verifier(public).verify(signed, NOW, "web2").kind == "stop"
    why = refused(verifier(public), signed, agent="web1")
    assert why.reason == "not_for_this_agent" and why.run_id == "run-1"
    assert "'web2'" in why.message and "'web1'" in why.message


def test_the_default_ttl_is_the_named_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTRACE_IDE_FLEET_COMMAND_TTL_S", "5")
    private, public = ed25519_pair()
    signed = Signer(private, Settings.from_env()).sign("run", "r", BODY, now=NOW)
    assert verifier(public).verify(signed, NOW, "a").expires_at == NOW + 5
    with pytest.raises(ValueError, match="ttl"):
        Signer(private).sign("run", "r", BODY, ttl=0)


def test_the_server_does_not_sign_what_an_agent_would_refuse_as_malformed() -> None:
    signer = Signer(ed25519_pair()[0])
    with pytest.raises(ValueError, match=r"run_id"):
        signer.sign("run", "", BODY)
    with pytest.raises(ValueError, match=r"agent"):
        signer.sign("run", "r", BODY, agent="x" * 300)


# --- forgeries -----------------------------------------------------------------------------


@pytest.mark.parametrize("make", PAIRS)
def test_an_unsigned_command_is_refused(make: Any) -> None:
    private, public = make()
    signed = Signer(private, SETTINGS).sign("run", "run-1", BODY, now=NOW)
    bare = base64.b64decode(json.loads(signed)["payload"])  # the command without its envelope
    assert refused(verifier(public), bare).reason == "unsigned"
    assert refused(verifier(public), rewrap(signed, sig="")).reason == "unsigned"


@pytest.mark.parametrize(
    "message",
    [
        b"not json",
        b"[1, 2]",
        b'{"sig": "x"}',
        b'{"v":1,"key_id":"k","payload":"","sig":"x"}',
        b'{"v":"1","key_id":"k","payload":"e30=","sig":"x"}',
        b"[" * 100_000,  # nested too deep to read: refused, not a crash
        b'{"sig":"x","a":' * 100_000,
    ],
    ids=["text", "array", "sig-only", "no-payload", "v-as-text", "deep-array", "deep-object"],
)
def test_a_message_that_is_not_a_signed_command_is_malformed(message: bytes) -> None:
    assert refused(verifier(ed25519_pair()[1]), message).reason == "malformed"


@pytest.mark.parametrize("make", PAIRS)
def test_a_tampered_body_is_refused_as_a_bad_signature(make: Any) -> None:
    private, public = make()
    signed = Signer(private, SETTINGS).sign("run", "run-1", BODY, now=NOW)
    payload = json.loads(base64.b64decode(json.loads(signed)["payload"]))
    payload["body"]["script"] = 'BEGIN { system("id"); }'
    forged = rewrap(signed, payload=b64(canonical_bytes(payload)))
    why = refused(verifier(public), forged)
    assert why.reason == "bad_signature"
    assert why.run_id is None  # a forger's claim of which run it is, not passed on


def test_a_command_signed_with_another_key_is_refused_naming_both_keys() -> None:
    mine, theirs = ed25519_pair(), ed25519_pair()
    v = verifier(mine[1])
    signed = Signer(theirs[0], SETTINGS).sign("run", "run-1", BODY, now=NOW)
    why = refused(v, signed)
    assert why.reason == "other_key"
    assert Signer(theirs[0]).key_id in why.message and v.key_id in why.message
    # the same forgery claiming this agent's key id: the signature gives it away
    assert refused(v, rewrap(signed, key_id=v.key_id)).reason == "bad_signature"


def test_a_shared_secret_and_a_key_pair_do_not_verify_each_other() -> None:
    secret, public = SharedSecret.generate(), ed25519_pair()[1]
    signed = Signer(secret, SETTINGS).sign("run", "r", BODY, now=NOW)
    assert refused(verifier(public), signed).reason == "other_key"
    assert refused(verifier(SharedSecret.generate()), signed).reason == "other_key"


def test_an_expired_command_is_refused_after_the_clock_skew_allowance() -> None:
    private, public = ed25519_pair()
    signed = Signer(private, SETTINGS).sign("run", "r", BODY, now=NOW)
    expires = NOW + TTL
    assert verifier(public).verify(signed, expires + SKEW - 0.1, "a").run_id == "r"
    why = refused(verifier(public), signed, now=expires + SKEW + 0.1)
    assert why.reason == "expired"


def test_a_command_issued_in_the_agents_future_is_not_valid_yet() -> None:
    private, public = ed25519_pair()
    early = Signer(private, SETTINGS).sign("run", "r", BODY, now=NOW + SKEW + 1)
    why = refused(verifier(public), early)
    assert why.reason == "not_yet_valid" and "clocks" in why.message
    within = Signer(private, SETTINGS).sign("run", "r", BODY, now=NOW + SKEW - 1)
    assert verifier(public).verify(within, NOW, "a").run_id == "r"


def test_a_command_that_expires_before_it_is_issued_is_malformed() -> None:
    private, public = ed25519_pair()
    command = Command("run", "r", NOW, NOW - 1, "n" * 32, "*", {})
    signed = Signer(private).sign_command(command)
    assert refused(verifier(public), signed).reason == "malformed"


@pytest.mark.parametrize("make", PAIRS)
def test_a_replayed_command_is_refused_while_valid_and_as_expired_after(make: Any) -> None:
    private, public = make()
    v = verifier(public)
    signed = Signer(private, SETTINGS).sign("run", "run-1", BODY, now=NOW)
    v.verify(signed, NOW, "a")
    again = refused(v, signed, now=NOW + 1, agent="a")
    assert again.reason == "replayed" and again.run_id == "run-1"
    late = NOW + TTL + SKEW + 1
    assert refused(v, signed, now=late, agent="a").reason == "expired"


def test_a_command_issued_before_the_agent_started_is_refused() -> None:
    """A restarted agent remembers no nonces: a recorded command replayed to it is refused."""
    private, public = ed25519_pair()
    signed = Signer(private, SETTINGS).sign("run", "r", BODY, now=NOW)
    restarted = Verifier(public, SETTINGS, started_at=NOW + SKEW + 1)
    why = refused(restarted, signed, now=NOW + SKEW + 2)
    assert why.reason == "replayed" and "before this agent started" in why.message


def test_the_nonce_memory_stays_bounded_and_forgets_expired_commands() -> None:
    small = Settings(token="-", fleet_max_nonces=3)
    private, public = ed25519_pair()
    signer, v = Signer(private, small), verifier(public, small)
    for i in range(3):
        v.verify(signer.sign("run", f"r{i}", BODY, ttl=1, now=NOW), NOW, "a")
    assert v.remembered == 3
    why = refused(v, signer.sign("run", "r3", BODY, ttl=1, now=NOW), agent="a")
    assert why.reason == "too_many_commands"
    step = int((1 + SKEW) // 3) + 1  # each is remembered 1 s + the skew: three at most at once
    for t in range(2, 400, step):
        now = NOW + SKEW + t
        v.verify(signer.sign("run", f"s{t}", BODY, ttl=1, now=now), now, "a")
        assert v.remembered <= 3


def test_an_oversized_message_is_refused_unread() -> None:
    v = verifier(ed25519_pair()[1])
    assert refused(v, b"x" * (v.max_bytes + 1)).reason == "too_large"
    assert refused(v, "é" * (v.max_bytes // 2 + 1)).reason == "too_large"  # 2 bytes each


def test_a_script_of_the_largest_size_fits_in_a_command() -> None:
    """Control characters are the worst case: JSON writes each as six bytes."""
    private, public = ed25519_pair()
    body = {**BODY, "script": "\x01" * SETTINGS.max_script_bytes}
    signed = Signer(private, SETTINGS).sign("run", "r", body, now=NOW)
    assert len(signed) <= SETTINGS.fleet_max_command_bytes
    assert verifier(public).verify(signed, NOW, "a").body["script"] == body["script"]


def test_base64_with_spare_bits_set_is_refused() -> None:
    """A second spelling of the same signature would make the message malleable."""
    private, public = ed25519_pair()
    signed = Signer(private, SETTINGS).sign("run", "r", BODY, now=NOW)
    sig = json.loads(signed)["sig"]  # 64 bytes: the last character before "==" has spare bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    spare = alphabet[alphabet.index(sig[-3]) ^ 1]
    twin = sig[:-3] + spare + "=="
    assert base64.b64decode(twin) == base64.b64decode(sig)
    assert refused(verifier(public), rewrap(signed, sig=twin)).reason == "malformed"


SIGNED = Signer(Ed25519PrivateKey.from_private_bytes(bytes(range(32))), SETTINGS)
ONE_MESSAGE = SIGNED.sign("run", "run-1", BODY, now=NOW)
ONE_PUBLIC = Ed25519PrivateKey.from_private_bytes(bytes(range(32))).public_key()


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_any_single_byte_change_to_a_signed_message_is_refused(data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(ONE_MESSAGE) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != ONE_MESSAGE[at]))
    forged = ONE_MESSAGE[:at] + bytes([byte]) + ONE_MESSAGE[at + 1 :]
    assert verifier(ONE_PUBLIC).verify(ONE_MESSAGE, NOW, "a").run_id == "run-1"
    with pytest.raises(Refused) as info:
        verifier(ONE_PUBLIC).verify(forged, NOW, "a")
    assert info.value.reason != "replayed"


# --- canonical bytes -----------------------------------------------------------------------


def test_canonical_bytes_are_sorted_compact_utf8_and_stable() -> None:
    command = Command(
        kind="run",
        run_id="r1",
        issued_at=1000.0,
        expires_at=1030.0,
        nonce="00" * 16,
        agent="*",
        body={"script": 'BEGIN { @["é"] = count(); }', "language": "bpftrace", "duration": 3},
    )
    assert canonical_bytes(command.to_dict()) == (
        b'{"agent":"*","body":{"duration":3,"language":"bpftrace","script":"BEGIN { @[\\"'
        + "é".encode()
        + b'\\"] = count(); }"},"expires_at":1030.0,"issued_at":1000.0,"kind":"run",'
        b'"nonce":"00000000000000000000000000000000","run_id":"r1"}'
    )
    shuffled = dict(reversed(list(command.to_dict().items())))
    assert canonical_bytes(shuffled) == canonical_bytes(command.to_dict())
    with pytest.raises(ValueError):
        canonical_bytes({"duration": float("nan")})


def test_a_fixed_key_signs_a_fixed_command_to_the_same_bytes() -> None:
    """Ed25519 is deterministic: this pins the whole wire format, envelope and signature."""
    command = Command(
        kind="run",
        run_id="r1",
        issued_at=1000.0,
        expires_at=1030.0,
        nonce="00" * 16,
        agent="*",
        body={
            "language": "bpftrace",
            "script": 'BEGIN { @["é"] = count(); }',
            "duration": 3,
            "interval": 1.0,
        },
    )
    wire = json.loads(SIGNED.sign_command(command))
    assert wire["v"] == 1 and wire["key_id"] == "ed25519:56475aa75463474c"
    assert wire["sig"] == (
        "ef/RqT+Mwe96l2gmaHkPa6KpS2k99mh4w/EetzhlQX+x1/46HJX39RULRHDbivO57FahQwE3yTldCOTWSRbHBA=="
    )
    assert base64.b64decode(wire["payload"]) == canonical_bytes(command.to_dict())


# --- the command line ----------------------------------------------------------------------


def test_fleet_key_writes_a_pair_that_signs_and_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fleet.key"
    assert main(["fleet-key", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"serve --fleet-key {path}" in out and f"agent --fleet-key {path}.pub" in out
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    signed = Signer(load_signing_key(path)).sign("run", "r", BODY, now=NOW)
    public = load_verify_key(Path(f"{path}.pub"))
    assert verifier(public).verify(signed, NOW, "a").run_id == "r"
    assert main(["fleet-key", str(path)]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["fleet-key", str(path), "--force"]) == 0
    replaced = Signer(load_signing_key(path)).sign("run", "r", BODY, now=NOW)
    assert refused(verifier(public), replaced).reason == "other_key"


def test_fleet_key_shared_secret_is_one_file_for_both_sides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fleet.secret"
    assert main(["fleet-key", str(path), "--shared-secret"]) == 0
    out = capsys.readouterr().out
    assert f"serve --fleet-key {path}" in out and f"agent --fleet-key {path} " in out
    assert not Path(f"{path}.pub").exists()
    signed = Signer(load_signing_key(path)).sign("stop", "r", {}, now=NOW)
    assert verifier(load_verify_key(path)).verify(signed, NOW, "a").kind == "stop"
