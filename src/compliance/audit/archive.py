"""The pack archive: every pack set that decided, stored under its digest for replay.

``<root>/<hex digest>/`` holds the manifest and every pack's source text, exactly as
loaded; loading that directory yields the same pack set digest, which ``replay`` checks
before trusting it. A set is written to a temporary directory and renamed into place,
so a crash never leaves a half-archived set under a valid name.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from compliance.canonical import schema_to_data

if TYPE_CHECKING:
    from compliance.engine import Engine

__all__ = ["DEFAULT_ARCHIVE", "PackArchive"]

DEFAULT_ARCHIVE = Path(".compliance") / "packs"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class PackArchive:
    """Content-addressed storage of pack sets (see the module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path_for(self, digest: str) -> Path:
        """The directory a pack set with ``digest`` lives in."""
        hex_digest = digest.removeprefix("sha256:")
        if not re.fullmatch(r"[0-9a-f]{64}", hex_digest):
            raise ValueError(f"not a pack set digest: {digest!r}")
        return self.root / hex_digest

    def has(self, digest: str) -> bool:
        """True when the set is archived."""
        return (self.path_for(digest) / "DIGEST").is_file()

    def store(self, engine: Engine) -> Path:
        """Archive the engine's pack set (once: a digest names its content)."""
        digest = engine.pack_set_digest
        target = self.path_for(digest)
        if self.has(digest):
            return target
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        pack_set = engine._checked.pack_set  # the archive needs the sources Engine keeps
        if pack_set.manifest is not None:
            manifest = pack_set.manifest.text
        else:  # a schema passed in code: write it as a manifest (JSON is YAML)
            manifest = json.dumps({"packset": "archived", "default_effect":
                                   pack_set.default_effect,
                                   "context": schema_to_data(pack_set.schema)}, indent=2)
        (staging / "packset.yaml").write_text(manifest, encoding="utf-8")
        for index, pack in enumerate(pack_set.packs):
            name = f"{index:03d}-{_SAFE.sub('_', pack.id)[:80]}.yaml"
            (staging / name).write_text(pack.source.text, encoding="utf-8")
        (staging / "DIGEST").write_text(digest + "\n", encoding="utf-8")
        try:
            os.rename(staging, target)
        except OSError:  # another writer archived it first
            _remove_tree(staging)
        return target


def _remove_tree(path: Path) -> None:
    for child in path.iterdir():
        child.unlink()
    path.rmdir()
