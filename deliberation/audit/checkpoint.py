"""Signed checkpoints of the transparency log: what makes truncating or rewriting it detectable.

A hash chain proves the order of the entries, not that none were cut off the end: deleting the newest
entries leaves a chain that verifies. So the service signs checkpoints of the chain's head, the way
Certificate Transparency logs and Go's checksum database do, in the C2SP `tlog-checkpoint` format
(https://c2sp.org/tlog-checkpoint), as a C2SP signed note (https://c2sp.org/signed-note) with Ed25519:

    <origin>
    <number of entries>
    <hash of the newest entry, base64 of its 32 bytes>

    — <key name> <base64 of (4-byte key id || 64-byte Ed25519 signature)>

The signature covers the first three lines (each ending in a newline). The key name is the origin; the key id is
the first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key). Anyone who kept a checkpoint can later ask
whether the log still holds, unchanged, the entries it signed (`deliberation audit verify --checkpoint FILE`):
fewer entries, or another hash at that position, is tampering.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from deliberation.settings import Settings

ED25519 = b"\x01"  # the signed-note signature type of Ed25519
KEY_FILE = "audit-signing-key"  # in the data directory: base64 of the 32-byte Ed25519 private key
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space start every signature line of a note


class CheckpointError(ValueError):
    """Not a checkpoint of this log, or its signature does not verify."""


class Checkpoint(msgspec.Struct, frozen=True):
    origin: str
    entries: int
    head_hash: str  # hex, as the log's entries carry it


class PublicKeyOut(msgspec.Struct):
    """The key checkpoints are signed with: raw, and as a signed-note verifier key (`name+keyid+base64`)."""

    name: str
    algorithm: str
    public_key: str
    key_id: str
    verifier_key: str


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Signer:
    """Signs checkpoints under one name (the log's origin) with one Ed25519 key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self.name = name
        self._private_key = private_key
        self.public_key = private_key.public_key().public_bytes_raw()
        self.key_id = hashlib.sha256(name.encode() + b"\n" + ED25519 + self.public_key).digest()[:4]

    def public_key_out(self) -> PublicKeyOut:
        return PublicKeyOut(
            name=self.name,
            algorithm="ed25519",
            public_key=_b64(self.public_key),
            key_id=self.key_id.hex(),
            verifier_key=f"{self.name}+{self.key_id.hex()}+{_b64(ED25519 + self.public_key)}",
        )

    def sign(self, entries: int, head_hash: str) -> str:
        """The signed checkpoint note of a chain with `entries` entries whose newest has `head_hash`."""
        body = f"{self.name}\n{entries}\n{_b64(bytes.fromhex(head_hash))}\n"
        signature = self._private_key.sign(body.encode())
        return f"{body}\n{SIGNATURE_PREFIX}{self.name} {_b64(self.key_id + signature)}\n"

    def open(self, note: str) -> Checkpoint:
        """The checkpoint a note signed with this key says; CheckpointError if it is not one."""
        body, separator, signatures = note.partition("\n\n")
        lines = body.split("\n")
        if not separator or len(lines) < 3 or lines[0] != self.name:
            raise CheckpointError(f"not a checkpoint of {self.name}")
        try:
            entries, head = int(lines[1]), base64.b64decode(lines[2], validate=True)
        except (ValueError, binascii.Error):
            raise CheckpointError("the entry count or head hash is malformed") from None
        if entries < 0 or len(head) != 32:
            raise CheckpointError("the entry count or head hash is malformed")
        signed = (body + "\n").encode()
        for line in signatures.splitlines():
            name, _, value = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
            if not line.startswith(SIGNATURE_PREFIX) or name != self.name:
                continue
            try:
                raw = base64.b64decode(value, validate=True)
            except binascii.Error:
                continue
            if raw[:4] != self.key_id:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(self.public_key).verify(raw[4:], signed)
            except InvalidSignature:
                raise CheckpointError("the signature does not verify with this log's key") from None
            return Checkpoint(origin=self.name, entries=entries, head_hash=head.hex())
        raise CheckpointError("no signature by this log's key")


def log_origin(settings: Settings) -> str:
    """The log's name: `DELIBERATION_AUDIT_ORIGIN`, else the public address's host and port with `/audit`."""
    return settings.audit_origin or f"{urlsplit(settings.public_url).netloc}/audit"


def load_signer(settings: Settings) -> Signer:
    """The signer from `DELIBERATION_AUDIT_SIGNING_KEY`, else from the data directory's key file, created (mode
    0600) with a new key the first time."""
    encoded = settings.audit_signing_key
    if encoded is None:
        path = Path(settings.data_dir) / KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written whole under a name of its own, then linked into place: processes starting at once (several
            # workers) keep the one key that was linked first, and nobody reads a half-written file.
            draft = path.with_name(f"{KEY_FILE}.{os.getpid()}")
            descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(_b64(Ed25519PrivateKey.generate().private_bytes_raw()) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
            draft.unlink()
        encoded = path.read_text().strip()
    return Signer(log_origin(settings), Ed25519PrivateKey.from_private_bytes(base64.b64decode(encoded)))
