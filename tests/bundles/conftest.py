"""Fixtures for bundle and reload tests: a copy of the shipped pack set, keys, a built bundle,
and ``remake`` to write a bundle with exactly the members (and signature) a test wants."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from compliance.bundle import FORMAT, SIGNING_DOMAIN, build_bundle, file_digest
from compliance.signing import Signer, generate_keypair

REPO = Path(__file__).resolve().parent.parent.parent
RULES = REPO / "rules"
CONTEXTS = REPO / "examples" / "contexts"


@dataclass(frozen=True)
class Keys:
    signer: Signer
    private: Path
    public: Path
    other_public: Path  # a key that did not sign anything here


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A private copy of rules/ the test may edit."""
    return Path(shutil.copytree(RULES, tmp_path / "rules"))


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    signer = generate_keypair(tmp_path / "key.pem", tmp_path / "pub.pem")
    generate_keypair(tmp_path / "other.pem", tmp_path / "other-pub.pem")
    return Keys(signer, tmp_path / "key.pem", tmp_path / "pub.pem", tmp_path / "other-pub.pem")


@pytest.fixture
def bundle(rules_dir: Path, keys: Keys, tmp_path: Path) -> Path:
    """rules/ built and signed with ``keys``."""
    out = tmp_path / "rules.bundle"
    build_bundle(rules_dir, out, signer=keys.signer)
    return out


def members_of(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()  # type: ignore[union-attr]
                if m.isfile()}


def write_tar(path: Path, members: Mapping[str, bytes],
              extra: Callable[[tarfile.TarFile], None] | None = None) -> Path:
    """A tar of ``members`` (in order), then whatever ``extra`` adds (links, odd names)."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra is not None:
            extra(tar)
    return path


def signed_members(files: Mapping[str, bytes], signer: Signer, *, digest: str,
                   listed: Mapping[str, bytes] | None = None,
                   fmt: str = FORMAT) -> dict[str, bytes]:
    """bundle.json listing ``listed`` (default: ``files``), signed, followed by ``files``."""
    manifest = json.dumps({
        "format": fmt, "pack_set_digest": digest, "created_by": "test",
        "files": {n: file_digest(d) for n, d in (listed if listed is not None else files).items()},
    }).encode()
    sig = json.dumps({"alg": "ed25519", "key_id": signer.key_id,
                      "signature": signer.sign(SIGNING_DOMAIN + manifest)}).encode()
    return {"bundle.json": manifest, "bundle.sig": sig, **files}
