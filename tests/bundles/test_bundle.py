"""Bundles: a signed bundle loads to the same engine as its directory; anything else is refused.

Every refusal names what failed with a ``bundle-*`` code, and every check runs before a pack
is parsed: unsigned, wrong-key, tampered, extra-file, missing-file and unsafe-member bundles.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from compliance.bundle import (
    BundleError,
    BundleLimits,
    build_bundle,
    check_bundle,
    looks_like_bundle,
    read_bundle,
)
from compliance.engine import Engine
from compliance.errors import PackError
from compliance.signing import KeyFileError, Verifier

from .conftest import CONTEXTS, Keys, members_of, signed_members, write_tar


def _codes(exc: pytest.ExceptionInfo[BundleError]) -> list[str]:
    return [p.code for p in exc.value.problems]


def _refused(path: Path, key: Path) -> BundleError:
    with pytest.raises(BundleError) as exc:
        Engine.from_bundle(path, public_key=key)
    assert "\n" not in str(exc.value)  # one line
    return exc.value


class TestRoundTrip:
    def test_same_digest_and_decisions_as_the_directory(self, bundle: Path, rules_dir: Path,
                                                        keys: Keys) -> None:
        from_dir = Engine.from_path(rules_dir)
        from_bundle = Engine.from_bundle(bundle, public_key=keys.public)
        assert from_bundle.pack_set_digest == from_dir.pack_set_digest
        contexts = sorted(CONTEXTS.glob("*.json"))
        contexts = [c for c in contexts if c.name != "expected.json"]
        assert len(contexts) > 5
        for ctx_file in contexts:
            ctx = json.loads(ctx_file.read_text(encoding="utf-8"))
            a, b = from_dir.evaluate(ctx), from_bundle.evaluate(ctx)
            assert (a.effect, a.reasons, a.model) == (b.effect, b.reasons, b.model), ctx_file

    def test_holds_the_manifest_and_packs_but_not_suites(self, bundle: Path) -> None:
        names = list(members_of(bundle))
        assert names[:2] == ["bundle.json", "bundle.sig"]
        assert "packs/packset.yaml" in names
        assert "packs/sanctions.yaml" in names
        assert not any("tests/" in n for n in names)

    def test_reproducible(self, rules_dir: Path, keys: Keys, tmp_path: Path) -> None:
        a, b = tmp_path / "a.bundle", tmp_path / "b.bundle"
        build_bundle(rules_dir, a, signer=keys.signer)
        build_bundle(rules_dir, b, signer=keys.signer)
        assert a.read_bytes() == b.read_bytes()

    def test_accepts_a_verifier_object(self, bundle: Path, keys: Keys) -> None:
        engine = Engine.from_bundle(bundle, public_key=Verifier.from_file(keys.public))
        assert engine.pack_set_digest.startswith("sha256:")

    def test_is_recognised_by_content(self, bundle: Path, rules_dir: Path) -> None:
        assert looks_like_bundle(bundle)
        assert not looks_like_bundle(rules_dir / "sanctions.yaml")
        assert not looks_like_bundle(rules_dir)

    def test_build_refuses_packs_with_errors(self, rules_dir: Path, tmp_path: Path) -> None:
        (rules_dir / "sanctions.yaml").write_text("id: [unclosed\n", encoding="utf-8")
        with pytest.raises(PackError):
            build_bundle(rules_dir, tmp_path / "x.bundle")
        assert not (tmp_path / "x.bundle").exists()


class TestRefused:
    def test_unsigned(self, rules_dir: Path, keys: Keys, tmp_path: Path) -> None:
        build_bundle(rules_dir, tmp_path / "u.bundle")
        err = _refused(tmp_path / "u.bundle", keys.public)
        assert [p.code for p in err.problems] == ["bundle-unsigned"]

    def test_wrong_key(self, bundle: Path, keys: Keys) -> None:
        err = _refused(bundle, keys.other_public)
        assert err.code == "bundle-bad-signature"
        assert keys.signer.key_id in str(err)  # it names the key the bundle claims

    def test_changed_pack(self, bundle: Path, keys: Keys, tmp_path: Path) -> None:
        members = members_of(bundle)
        members["packs/sanctions.yaml"] += b"\n# harmless-looking comment\n"
        err = _refused(write_tar(tmp_path / "t.bundle", members), keys.public)
        assert [(p.code, "packs/sanctions.yaml" in p.message) for p in err.problems] == [
            ("bundle-changed-file", True)]

    def test_changed_manifest_breaks_the_signature(self, bundle: Path, keys: Keys,
                                                   tmp_path: Path) -> None:
        members = members_of(bundle)
        manifest = json.loads(members["bundle.json"])
        manifest["created_by"] = "someone else"
        members["bundle.json"] = json.dumps(manifest).encode()
        err = _refused(write_tar(tmp_path / "t.bundle", members), keys.public)
        assert [p.code for p in err.problems] == ["bundle-bad-signature"]

    def test_extra_pack(self, bundle: Path, keys: Keys, tmp_path: Path) -> None:
        members = members_of(bundle)
        members["packs/allow-everything.yaml"] = b"id: x\n"
        err = _refused(write_tar(tmp_path / "t.bundle", members), keys.public)
        assert [p.code for p in err.problems] == ["bundle-extra-file"]

    def test_extra_file_outside_packs(self, bundle: Path, keys: Keys, tmp_path: Path) -> None:
        members = {**members_of(bundle), "README": b"hello"}
        err = _refused(write_tar(tmp_path / "t.bundle", members), keys.public)
        assert err.code == "bundle-extra-file"

    def test_missing_pack(self, bundle: Path, keys: Keys, tmp_path: Path) -> None:
        members = members_of(bundle)
        del members["packs/export-control.yaml"]
        err = _refused(write_tar(tmp_path / "t.bundle", members), keys.public)
        assert [p.code for p in err.problems] == ["bundle-missing-file"]
        assert "packs/export-control.yaml" in err.problems[0].message

    def test_every_problem_is_reported(self, bundle: Path, keys: Keys, tmp_path: Path) -> None:
        members = members_of(bundle)
        del members["packs/export-control.yaml"]
        members["packs/sanctions.yaml"] = b"id: changed\n"
        members["packs/new.yaml"] = b"id: new\n"
        err = _refused(write_tar(tmp_path / "t.bundle", members), keys.other_public)
        assert sorted(p.code for p in err.problems) == [
            "bundle-bad-signature", "bundle-changed-file", "bundle-extra-file",
            "bundle-missing-file"]
        assert "(and 3 more problems)" in str(err)

    @pytest.mark.parametrize("name", ["packs/../evil.yaml", "/etc/evil.yaml", "packs/./x.yaml",
                                      "packs/.hidden.yaml", "packs\\evil.yaml", "packs//x.yaml"])
    def test_unsafe_names(self, bundle: Path, keys: Keys, tmp_path: Path, name: str) -> None:
        members = {**members_of(bundle), name: b"id: x\n"}
        err = _refused(write_tar(tmp_path / "t.bundle", members), keys.public)
        assert [p.code for p in err.problems] == ["bundle-unsafe-member"]

    @pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE,
                                      tarfile.FIFOTYPE, tarfile.CHRTYPE])
    def test_links_and_special_members(self, bundle: Path, keys: Keys, tmp_path: Path,
                                       kind: bytes) -> None:
        def add(tar: tarfile.TarFile) -> None:
            info = tarfile.TarInfo("packs/link.yaml")
            info.type = kind
            info.linkname = "/etc/passwd"
            tar.addfile(info)

        err = _refused(write_tar(tmp_path / "t.bundle", members_of(bundle), add), keys.public)
        assert err.code == "bundle-unsafe-member"

    def test_duplicate_member(self, bundle: Path, keys: Keys, tmp_path: Path) -> None:
        members = members_of(bundle)

        def add(tar: tarfile.TarFile) -> None:  # a second copy, as a tar may hold
            info = tarfile.TarInfo("packs/sanctions.yaml")
            info.size = 6
            tar.addfile(info, io.BytesIO(b"id: x\n"))

        err = _refused(write_tar(tmp_path / "t.bundle", members, add), keys.public)
        assert err.code == "bundle-duplicate-member"

    def test_manifest_must_cover_every_file_even_when_signed(self, bundle: Path, keys: Keys,
                                                             tmp_path: Path) -> None:
        """The OPA lesson: a signed manifest naming only some files verifies nothing."""
        members = members_of(bundle)
        files = {n: d for n, d in members.items() if n.startswith("packs/")}
        listed = {n: d for n, d in files.items() if n != "packs/export-control.yaml"}
        digest = json.loads(members["bundle.json"])["pack_set_digest"]
        out = write_tar(tmp_path / "t.bundle",
                        signed_members(files, keys.signer, digest=digest, listed=listed))
        assert _refused(out, keys.public).code == "bundle-extra-file"

    def test_signed_digest_must_match_the_packs(self, bundle: Path, keys: Keys,
                                                tmp_path: Path) -> None:
        files = {n: d for n, d in members_of(bundle).items() if n.startswith("packs/")}
        out = write_tar(tmp_path / "t.bundle",
                        signed_members(files, keys.signer, digest="sha256:" + "0" * 64))
        assert _refused(out, keys.public).code == "bundle-digest-mismatch"

    def test_unknown_format(self, bundle: Path, keys: Keys, tmp_path: Path) -> None:
        files = {n: d for n, d in members_of(bundle).items() if n.startswith("packs/")}
        out = write_tar(tmp_path / "t.bundle", signed_members(
            files, keys.signer, digest="x", fmt="compliance-bundle/99"))
        assert _refused(out, keys.public).code == "bundle-unsupported-format"

    def test_checkpoint_style_signature_is_not_a_bundle_signature(
            self, bundle: Path, keys: Keys, tmp_path: Path) -> None:
        """The signed payload is domain-separated: signing the bare manifest does not pass."""
        members = members_of(bundle)
        sig = json.loads(members["bundle.sig"])
        sig["signature"] = keys.signer.sign(members["bundle.json"])
        members["bundle.sig"] = json.dumps(sig).encode()
        err = _refused(write_tar(tmp_path / "t.bundle", members), keys.public)
        assert err.code == "bundle-bad-signature"

    def test_signed_packs_with_errors_raise_pack_error(self, bundle: Path, keys: Keys,
                                                       tmp_path: Path) -> None:
        files = {n: d for n, d in members_of(bundle).items() if n.startswith("packs/")}
        files["packs/sanctions.yaml"] = b"id: [unclosed\n"
        out = write_tar(tmp_path / "t.bundle", signed_members(files, keys.signer, digest="x"))
        with pytest.raises(PackError) as exc:
            Engine.from_bundle(out, public_key=keys.public)
        assert "t.bundle/sanctions.yaml:2:1: error[yaml-syntax]" in str(exc.value)  # in the bundle

    def test_size_limits(self, bundle: Path, keys: Keys) -> None:
        with pytest.raises(BundleError) as exc:
            read_bundle(bundle, BundleLimits(max_bytes=1000))
        assert _codes(exc) == ["bundle-too-large"]
        with pytest.raises(BundleError) as exc:
            read_bundle(bundle, BundleLimits(max_members=3))
        assert _codes(exc) == ["bundle-too-large"]

    def test_not_a_bundle(self, rules_dir: Path, keys: Keys, tmp_path: Path) -> None:
        assert _refused(rules_dir / "sanctions.yaml", keys.public).code == "bundle-malformed"
        assert _refused(rules_dir, keys.public).code == "bundle-unreadable"
        assert _refused(tmp_path / "absent", keys.public).code == "bundle-unreadable"
        empty = write_tar(tmp_path / "e.bundle", {})
        assert _refused(empty, keys.public).code == "bundle-malformed"
        no_manifest = write_tar(tmp_path / "n.bundle", {"packs/a.yaml": b"id: a\n"})
        assert _refused(no_manifest, keys.public).code == "bundle-no-manifest"

    def test_unusable_key_file(self, bundle: Path, rules_dir: Path, keys: Keys) -> None:
        """bundle-bad-key: a BundleError (nothing verified) that is also a KeyFileError."""
        for key in (rules_dir / "sanctions.yaml", rules_dir / "absent.pem", keys.private):
            with pytest.raises(KeyFileError) as caught:
                Engine.from_bundle(bundle, public_key=key)
            assert isinstance(caught.value, BundleError)
            assert caught.value.code == "bundle-bad-key"
            assert str(key) in str(caught.value)

    def test_check_bundle_verifies_before_parsing(self, bundle: Path, keys: Keys,
                                                  tmp_path: Path) -> None:
        """A changed pack that does not even parse is refused as changed, not parsed."""
        members = members_of(bundle)
        members["packs/sanctions.yaml"] = b"\xff\xfe not yaml"
        out = write_tar(tmp_path / "t.bundle", members)
        with pytest.raises(BundleError) as exc:
            check_bundle(out, Verifier.from_file(keys.public))
        assert _codes(exc) == ["bundle-changed-file"]
