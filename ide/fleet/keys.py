"""The fleet's key files: an Ed25519 pair, or one shared secret.

``FILE`` holds what signs (the private key as unencrypted PKCS#8 PEM, or the secret) and is
written mode 0600; ``FILE.pub`` holds the public key as one OpenSSH line
(``ssh-ed25519 AAAA... dtrace-ide-fleet``).  Reading a file tells which of the three it is, so
the server and the agents can each say when they were given the other's file, and a file
that holds a secret is refused while other users can read it, as OpenSSH refuses one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SECRET_PREFIX = "dtrace-ide-fleet-secret"
SECRET_BYTES = 32
PUBLIC_COMMENT = "dtrace-ide-fleet"
MAX_KEY_FILE_BYTES = 64 * 1024
MAKE_ONE = "make one with: dtrace-ide fleet-key FILE"


class KeyFileError(ValueError):
    """A key file that cannot be used where it was given; the message says what to do."""


@dataclass(frozen=True)
class SharedSecret:
    """One secret that both signs and verifies (HMAC-SHA256); the server and every agent
    hold the same file."""

    secret: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> SharedSecret:
        return cls(secrets.token_bytes(SECRET_BYTES))


SigningKey = Ed25519PrivateKey | SharedSecret
VerifyKey = Ed25519PublicKey | SharedSecret
AnyKey = Ed25519PrivateKey | Ed25519PublicKey | SharedSecret


def key_id(key: AnyKey) -> str:
    """A short fingerprint: the same for a private key and its public key, and for the two
    copies of a secret; it names the key in a signed command and reveals nothing of it."""
    if isinstance(key, SharedSecret):
        digest = hmac.new(key.secret, b"dtrace-ide fleet key id", hashlib.sha256).hexdigest()
        return f"secret:{digest[:16]}"
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"ed25519:{hashlib.sha256(raw).hexdigest()[:16]}"


def describe(key: AnyKey) -> str:
    if isinstance(key, SharedSecret):
        return "shared secret"
    return "Ed25519 private key" if isinstance(key, Ed25519PrivateKey) else "Ed25519 public key"


# --- writing -------------------------------------------------------------------------------


def public_path(path: Path) -> Path:
    return path.with_name(path.name + ".pub")


def write_key_pair(path: Path, *, force: bool = False) -> tuple[Path, Path]:
    """A new Ed25519 pair in ``path`` (0600) and ``path.pub`` (0644).  An existing file is
    refused unless ``force``; then each is replaced whole, never left half written."""
    pub = public_path(path)
    if not force:
        _refuse_existing(path, pub)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    line = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    _write(path, pem, 0o600, force=force)
    _write(pub, line + f" {PUBLIC_COMMENT}\n".encode(), 0o644, force=force)
    return path, pub


def write_shared_secret(path: Path, *, force: bool = False) -> SharedSecret:
    """A new secret in ``path`` (0600), as one line: ``dtrace-ide-fleet-secret BASE64``."""
    if not force:
        _refuse_existing(path)
    key = SharedSecret.generate()
    text = f"{SECRET_PREFIX} {base64.b64encode(key.secret).decode()}\n"
    _write(path, text.encode(), 0o600, force=force)
    return key


def _refuse_existing(*paths: Path) -> None:
    for p in paths:
        if p.exists() or p.is_symlink():
            raise KeyFileError(f"{p} exists; --force replaces it")


def _write(path: Path, data: bytes, mode: int, *, force: bool) -> None:
    """Write a temporary file beside ``path`` with ``mode`` from the start, then move it into
    place: replacing (``force``) or linking, which fails if ``path`` appeared meanwhile."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise KeyFileError(f"{path} exists; --force replaces it") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


# --- reading -------------------------------------------------------------------------------


def read_key(path: Path) -> AnyKey:
    """Whichever key ``path`` holds.  A private key or secret that other users can read is
    refused: it may already have been copied."""
    try:
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            data = f.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{path} is not a fleet key (it is over 64 KiB); {MAKE_ONE}")
    text = data.decode("utf-8", "replace").strip()
    first = text.partition("\n")[0]
    if "PRIVATE KEY-----" in first or first.startswith(SECRET_PREFIX):
        _refuse_readable_by_others(path, mode)
        if first.startswith(SECRET_PREFIX):
            return _parse_secret(path, first)
        return _parse_private(path, data)
    if first.startswith("-----BEGIN PUBLIC KEY-----") or first.startswith("ssh-"):
        return _parse_public(path, data, first)
    raise KeyFileError(f"{path} is not a fleet key; {MAKE_ONE}")


def load_signing_key(path: Path) -> SigningKey:
    """The server's key: the private key of a pair, or the shared secret."""
    key = read_key(path)
    if isinstance(key, Ed25519PublicKey):
        private = path.with_suffix("") if path.suffix == ".pub" else None
        hint = f" ({private})" if private else ""
        raise KeyFileError(
            f"{path} is a public key; the server signs with the private key{hint}, "
            "and the agents take the public one"
        )
    return key


def load_verify_key(path: Path) -> VerifyKey:
    """An agent's key: the public key of a pair, or the shared secret."""
    key = read_key(path)
    if isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(
            f"{path} is a private key; an agent takes the public key, {public_path(path)}, "
            "and the private key stays on the server"
        )
    return key


def _refuse_readable_by_others(path: Path, mode: int) -> None:
    if stat.S_IMODE(mode) & 0o077:
        raise KeyFileError(
            f"{path} can be read or written by other users (mode {stat.S_IMODE(mode):04o}); "
            f"it holds a secret, so it must be yours alone: chmod 600 {path}"
        )


def _parse_secret(path: Path, line: str) -> SharedSecret:
    encoded = line[len(SECRET_PREFIX) :].strip()
    try:
        secret = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        secret = b""
    if len(secret) != SECRET_BYTES:
        raise KeyFileError(f"{path}: the shared secret is damaged; {MAKE_ONE} --shared-secret")
    return SharedSecret(secret)


def _parse_private(path: Path, data: bytes) -> Ed25519PrivateKey:
    key: object
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(
            f"{path} is encrypted; the server reads its key unattended, so it takes an "
            f"unencrypted one (mode 0600); {MAKE_ONE}"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(f"{path}: the private key is damaged; {MAKE_ONE}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key; {MAKE_ONE}")
    return key


def _parse_public(path: Path, data: bytes, first: str) -> Ed25519PublicKey:
    key: object
    try:
        if first.startswith("ssh-"):
            key = serialization.load_ssh_public_key(first.encode())
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(f"{path}: the public key is damaged; {MAKE_ONE}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 key; {MAKE_ONE}")
    return key
