"""Ed25519 keys for audit checkpoints and pack bundles (``cryptography``, imported lazily).

A checkpoint signs the canonical bytes of itself without ``sig``: its ``seq`` and ``prev``
pin the whole chain before it, so anyone holding the public key can tell a log cut short,
extended or rewritten by someone without the private key.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

__all__ = ["KeyFileError", "Signer", "Verifier", "generate_keypair"]


class KeyFileError(ValueError):
    """A key file that cannot be read or is not an Ed25519 key."""


def _key_id(public_raw: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Signer:
    """Signs checkpoints with an Ed25519 private key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.key_id = _key_id(_raw_public(key.public_key()))

    @classmethod
    def from_file(cls, path: str | Path) -> Signer:
        """Load a PEM (PKCS#8) Ed25519 private key."""
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PrivateKey,
        )

        try:
            key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise KeyFileError(f"{path}: not a readable PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{path}: not an Ed25519 private key")
        return cls(key)

    def sign(self, payload: bytes) -> str:
        """The signature of ``payload`` as hex."""
        return self._key.sign(payload).hex()

    def verifier(self) -> Verifier:
        """The matching verifier."""
        return Verifier(self._key.public_key())


class Verifier:
    """Checks checkpoint signatures with an Ed25519 public key."""

    def __init__(self, key: Ed25519PublicKey) -> None:
        self._key = key
        self.key_id = _key_id(_raw_public(key))

    @classmethod
    def from_file(cls, path: str | Path) -> Verifier:
        """Load a PEM (SubjectPublicKeyInfo) Ed25519 public key."""
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PublicKey,
        )

        try:
            key = serialization.load_pem_public_key(Path(path).read_bytes())
        except (OSError, ValueError, TypeError) as exc:
            raise KeyFileError(f"{path}: not a readable PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(f"{path}: not an Ed25519 public key")
        return cls(key)

    def verify(self, payload: bytes, signature_hex: str) -> bool:
        """True when ``signature_hex`` is this key's signature of ``payload``."""
        from cryptography.exceptions import InvalidSignature  # noqa: PLC0415

        try:
            self._key.verify(bytes.fromhex(signature_hex), payload)
        except (InvalidSignature, ValueError):
            return False
        return True


def generate_keypair(private_path: str | Path, public_path: str | Path) -> Signer:
    """Create a new key pair as PEM files (the private one readable by its owner only)."""
    import os  # noqa: PLC0415

    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PrivateKey,
    )

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private)
    Path(public_path).write_bytes(public)
    return Signer(key)
