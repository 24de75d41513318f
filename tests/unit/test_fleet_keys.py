"""The fleet's key files: written private, never overwritten unasked, told apart on reading,
and refused with what to do when given to the wrong side or left readable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ide.fleet.keys import (
    KeyFileError,
    SharedSecret,
    key_id,
    load_signing_key,
    load_verify_key,
    read_key,
    write_key_pair,
    write_shared_secret,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_pair_is_written_private_key_0600_public_key_one_openssh_line(tmp_path: Path) -> None:
    private, public = write_key_pair(tmp_path / "k")
    assert (mode(private), mode(public)) == (0o600, 0o644)
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    line = public.read_text()
    assert line.startswith("ssh-ed25519 ") and line.count("\n") == 1
    signing, verify = read_key(private), read_key(public)
    assert isinstance(signing, Ed25519PrivateKey) and isinstance(verify, Ed25519PublicKey)
    assert key_id(signing) == key_id(verify)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k", "k.pub"]  # no temporary file


def test_a_shared_secret_is_one_0600_line(tmp_path: Path) -> None:
    path = tmp_path / "s"
    secret = write_shared_secret(path)
    assert mode(path) == 0o600
    assert path.read_text().startswith("dtrace-ide-fleet-secret ")
    assert read_key(path) == secret and len(secret.secret) == 32
    assert secret.secret.hex() not in repr(secret)


@pytest.mark.parametrize("existing", ["k", "k.pub"])
def test_an_existing_file_is_not_overwritten_without_force(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_text("keep me")
    with pytest.raises(KeyFileError, match="exists; --force replaces it"):
        write_key_pair(tmp_path / "k")
    assert (tmp_path / existing).read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]


def test_force_replaces_a_pair_and_a_secret_with_new_ones(tmp_path: Path) -> None:
    private, _ = write_key_pair(tmp_path / "k")
    before = key_id(read_key(private))
    write_key_pair(tmp_path / "k", force=True)
    assert key_id(read_key(private)) != before and mode(private) == 0o600
    path = tmp_path / "s"
    first = write_shared_secret(path)
    with pytest.raises(KeyFileError, match="--force"):
        write_shared_secret(path)
    assert read_key(path) == first
    assert write_shared_secret(path, force=True) != first


@pytest.mark.parametrize("make", ["pair", "secret"])
@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604])
def test_a_secret_readable_by_others_is_refused_saying_chmod_600(
    tmp_path: Path, make: str, loose: int
) -> None:
    path = tmp_path / "k"
    if make == "pair":
        write_key_pair(path)
    else:
        write_shared_secret(path)
    os.chmod(path, loose)
    with pytest.raises(KeyFileError, match=f"chmod 600 {path}$"):
        read_key(path)
    os.chmod(path, 0o600)
    read_key(path)


def test_a_public_key_readable_by_all_is_fine(tmp_path: Path) -> None:
    _, public = write_key_pair(tmp_path / "k")
    os.chmod(public, 0o644)
    assert isinstance(load_verify_key(public), Ed25519PublicKey)


def test_the_private_key_given_to_an_agent_is_refused_naming_the_public_one(
    tmp_path: Path,
) -> None:
    private, public = write_key_pair(tmp_path / "k")
    with pytest.raises(KeyFileError, match=f"private key; an agent takes the public key, {public}"):
        load_verify_key(private)


def test_the_public_key_given_to_the_server_is_refused_naming_the_private_one(
    tmp_path: Path,
) -> None:
    private, public = write_key_pair(tmp_path / "k")
    with pytest.raises(KeyFileError, match=rf"public key; the server signs .*\({private}\)"):
        load_signing_key(public)


def test_a_shared_secret_serves_both_sides(tmp_path: Path) -> None:
    path = tmp_path / "s"
    write_shared_secret(path)
    assert isinstance(load_signing_key(path), SharedSecret)
    assert load_signing_key(path) == load_verify_key(path)


def test_a_key_that_ssh_keygen_could_have_made_is_read(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "id_ed25519"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    os.chmod(path, 0o600)
    assert key_id(load_signing_key(path)) == key_id(key)
    pem = tmp_path / "pub.pem"
    pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert key_id(load_verify_key(pem)) == key_id(key)


def test_other_files_are_refused_saying_how_to_make_a_key(tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files = {
        "rsa": rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "encrypted": Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        ),
        "damaged-secret": b"dtrace-ide-fleet-secret c2hvcnQ=\n",
        "damaged-public": b"ssh-ed25519 AAAAnope\n",
        "text": b"hello\n",
    }
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        os.chmod(path, 0o600)
        with pytest.raises(KeyFileError, match="dtrace-ide fleet-key FILE") as info:
            read_key(path)
        assert str(path) in str(info.value), name
    with pytest.raises(KeyFileError, match="cannot read"):
        read_key(tmp_path / "missing")
