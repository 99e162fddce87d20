"""Every command that takes a pack set takes a signed bundle the same way (cli.rules_option).

For each of check, eval, observe, replay and diff: a signed bundle with its key is accepted;
a tampered one is refused naming the changed file (exit 1; 2 for replay, whose 1 means
"decisions differ"); a bundle without --public-key
is a usage error (exit 2), as eval has it; an unusable key file is ``bundle-bad-key``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from compliance import cli

from .conftest import CONTEXTS, REPO, Keys, members_of, write_tar

CONTEXT = str(CONTEXTS / "fable5-french-national-after-directive.json")
EVENTS = str(REPO / "examples" / "events" / "safeguard-flags.jsonl")
TRAFFIC = str(REPO / "examples" / "traffic" / "sample.jsonl")

Command = Callable[[str, list[str], Path], list[str]]
"""argv for one command given the bundle, the key options and a scratch directory."""


def _replay(bundle: str, key: list[str], tmp: Path) -> list[str]:
    log = tmp / "decisions.jsonl"
    if not log.exists():
        assert cli.main(["eval", "--rules", str(REPO / "rules"), CONTEXT,
                         "--log", str(log)]) == 0
    return ["replay", str(log), "--rules", bundle, *key]


COMMANDS: dict[str, Command] = {
    "check": lambda bundle, key, tmp: ["check", bundle, *key],
    "eval": lambda bundle, key, tmp: ["eval", "--rules", bundle, *key, CONTEXT],
    "observe": lambda bundle, key, tmp: ["observe", EVENTS, "--rules", bundle, *key],
    "replay": _replay,
    "diff": lambda bundle, key, tmp: ["diff", bundle, bundle, "--traffic", TRAFFIC, *key,
                                      "--workers", "1", "--quiet"],
}


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_signed_bundle_is_accepted_wherever_a_pack_set_is(
    name: str, capsys: pytest.CaptureFixture[str], bundle: Path, keys: Keys, tmp_path: Path,
) -> None:
    code, err = run(capsys, COMMANDS[name](str(bundle), ["--public-key", str(keys.public)],
                                           tmp_path))
    assert code == 0, err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_tampered_bundle_is_refused_naming_the_file(
    name: str, capsys: pytest.CaptureFixture[str], bundle: Path, keys: Keys, tmp_path: Path,
) -> None:
    members = members_of(bundle)
    members["packs/sanctions.yaml"] += b"#"
    tampered = str(write_tar(tmp_path / "t.bundle", members))
    code, err = run(capsys, COMMANDS[name](tampered, ["--public-key", str(keys.public)],
                                           tmp_path))
    assert code == (2 if name == "replay" else 1)
    assert "`packs/sanctions.yaml` does not match its manifest digest [bundle-changed-file]" \
        in err
    assert f"{tampered}: refused (1 problem)" in err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_bundle_without_a_key_is_a_usage_error(
    name: str, capsys: pytest.CaptureFixture[str], bundle: Path, tmp_path: Path,
) -> None:
    code, err = run(capsys, COMMANDS[name](str(bundle), [], tmp_path))
    assert code == 2
    assert f"{bundle}: a bundle needs --public-key to verify it" in err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_unusable_key_is_bundle_bad_key(
    name: str, capsys: pytest.CaptureFixture[str], bundle: Path, rules_dir: Path,
    tmp_path: Path,
) -> None:
    not_a_key = str(rules_dir / "sanctions.yaml")
    code, err = run(capsys, COMMANDS[name](str(bundle), ["--public-key", not_a_key], tmp_path))
    assert code == 2
    assert "[bundle-bad-key]" in err
    assert f"{not_a_key}: key refused" in err


def test_a_bundle_goes_alone(capsys: pytest.CaptureFixture[str], bundle: Path, keys: Keys,
                             rules_dir: Path) -> None:
    code, err = run(capsys, ["eval", "--rules", str(bundle), "--rules", str(rules_dir),
                             "--public-key", str(keys.public), CONTEXT])
    assert code == 2
    assert "a bundle is a whole pack set" in err


def test_check_of_a_bundle_shows_the_packs_warnings(
    capsys: pytest.CaptureFixture[str], rules_dir: Path, keys: Keys, tmp_path: Path,
) -> None:
    """`check BUNDLE` reports what `check DIR` reports of the same packs; --strict fails."""
    from compliance.bundle import build_bundle

    (rules_dir / "dormant.yaml").write_text(
        "pack: dormant\nversion: 2026.01.01-1\ntier: policy\nauthority: Test\n"
        "rules:\n  - id: never\n    when: \"false\"\n    effect: deny\n    reason: Never\n",
        encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["check", str(rules_dir)]) == 0
    from_dir = capsys.readouterr().out
    assert "warning[unreachable-rule]" in from_dir
    out = tmp_path / "dormant.bundle"
    build_bundle(rules_dir, out, signer=keys.signer)
    key = ["--public-key", str(keys.public)]
    capsys.readouterr()
    assert cli.main(["check", str(out), *key]) == 0
    shown = capsys.readouterr()
    assert "warning[unreachable-rule]" in shown.out
    assert "rule `never`" in shown.out
    assert f"ok: {out}: verified" in shown.err
    assert cli.main(["check", str(out), *key, "--strict"]) == 1
