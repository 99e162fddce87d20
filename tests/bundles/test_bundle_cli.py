"""``compliance bundle`` and ``eval --rules BUNDLE``: exit codes and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance import cli

from .conftest import CONTEXTS, Keys, members_of, write_tar

CONTEXT = str(CONTEXTS / "fable5-french-national-after-directive.json")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_build_verify_inspect_eval(capsys: pytest.CaptureFixture[str], rules_dir: Path,
                                   keys: Keys, tmp_path: Path) -> None:
    out_file = str(tmp_path / "r.bundle")
    code, out, _ = run(capsys, "bundle", "build", str(rules_dir), "-o", out_file,
                       "--sign", str(keys.private))
    assert code == 0
    assert keys.signer.key_id in out
    code, out, _ = run(capsys, "bundle", "verify", out_file, "--public-key", str(keys.public))
    assert (code, "every file matches" in out) == (0, True)
    code, out, _ = run(capsys, "bundle", "inspect", out_file)
    assert code == 0
    assert "packs/sanctions.yaml" in out
    assert "not checked" in out
    code, out, _ = run(capsys, "eval", "--rules", out_file, "--public-key", str(keys.public),
                       CONTEXT)
    assert code == 0
    assert out.startswith("effect: deny")


def test_refusals(capsys: pytest.CaptureFixture[str], bundle: Path, keys: Keys,
                  tmp_path: Path) -> None:
    code, _, err = run(capsys, "bundle", "verify", str(bundle), "--public-key",
                       str(keys.other_public))
    assert code == 1
    assert "[bundle-bad-signature]" in err
    members = members_of(bundle)
    members["packs/sanctions.yaml"] += b"#"
    tampered = str(write_tar(tmp_path / "t.bundle", members))
    code, _, err = run(capsys, "bundle", "verify", tampered, "--public-key", str(keys.public))
    assert (code, "[bundle-changed-file]" in err) == (1, True)
    code, _, err = run(capsys, "eval", "--rules", tampered, "--public-key", str(keys.public),
                       CONTEXT)
    assert (code, "[bundle-changed-file]" in err) == (1, True)
    code, out, _ = run(capsys, "bundle", "inspect", tampered, "--public-key", str(keys.public))
    assert (code, "verified: NO" in out) == (1, True)
    code, _, err = run(capsys, "eval", "--rules", str(bundle), CONTEXT)
    assert (code, "needs --public-key" in err) == (2, True)
    code, _, err = run(capsys, "bundle", "verify", str(tmp_path / "absent"), "--public-key",
                       str(keys.public))
    assert code == 2
    code, _, err = run(capsys, "bundle", "verify", str(bundle), "--public-key", str(bundle))
    assert (code, "not a readable PEM public key" in err) == (2, True)


def test_build_of_broken_packs_fails(capsys: pytest.CaptureFixture[str], rules_dir: Path,
                                     tmp_path: Path) -> None:
    (rules_dir / "sanctions.yaml").write_text("id: [x\n", encoding="utf-8")
    code, _, err = run(capsys, "bundle", "build", str(rules_dir), "-o",
                       str(tmp_path / "x.bundle"))
    assert code == 1
    assert "not bundled" in err
