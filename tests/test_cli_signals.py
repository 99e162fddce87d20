"""``compliance observe`` and ``compliance eval --events`` (issue 12): replays and bad events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compliance import cli

REPO = Path(__file__).resolve().parent.parent
RULES = str(REPO / "rules")
EVENTS = REPO / "examples" / "events" / "safeguard-flags.jsonl"
CONTEXT = REPO / "examples" / "contexts" / "fable5-us-citizen-after-directive.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_observe_prints_the_facts_raised(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "observe", "--rules", RULES, str(EVENTS))
    assert (code, err) == (0, "")
    assert "line 5: under_review for `org-acme` from 2026-06-15T14:27:45Z until " \
           "2026-06-16T14:27:45Z" in out
    assert "5 events replayed, 1 facts raised" in out


def test_observe_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "observe", "--format", "json", "--rules", RULES, str(EVENTS))
    assert code == 0
    assert json.loads(out) == [{"line": 5, "fact": "under_review", "key": "org-acme",
                                "since": "2026-06-15T14:27:45Z",
                                "until": "2026-06-16T14:27:45Z"}]


def test_eval_with_events_reads_the_replayed_facts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "eval", "--format", "json", "--rules", RULES, "--events",
                       str(EVENTS), str(CONTEXT))
    assert code == 0
    decision = json.loads(out)
    assert decision["effect"] == "deny"
    assert decision["obligations"]["logging_level"] == "full"
    assert decision["facts"] == [{"fact": "under_review", "key": "org-acme",
                                  "since": "2026-06-15T14:27:45Z",
                                  "until": "2026-06-16T14:27:45Z"}]
    assert decision["valid_until"] == "2026-06-16T14:27:45Z"


def test_eval_without_events_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "eval", "--format", "json", "--rules", RULES, str(CONTEXT))
    assert code == 0
    decision = json.loads(out)
    assert (decision["effect"], decision["model"], decision["facts"]) == ("allow", "fable-5", [])


def test_eval_a_day_later_sees_the_review_expired(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    context = json.loads(CONTEXT.read_text())
    context["request"]["time"] = "2026-06-16T14:27:45Z"
    path = tmp_path / "later.json"
    path.write_text(json.dumps(context))
    code, out, _ = run(capsys, "eval", "--rules", RULES, "--events", str(EVENTS), str(path))
    assert code == 0
    assert out.startswith("effect: allow")
    assert "fact:" not in out


@pytest.mark.parametrize(("lines", "message"), [
    ('{"kind":"a","time":"2026-06-15T14:20:00Z"}\nnot json\n', ":2:1: not a JSON event"),
    ('\n\n{"kind": "x", "time": 5}\n', ":3: bad event: time: must be a string, got number"),
    ('{"kind": "x"}\n', ":1: bad event: time: is required"),
    ('[1]\n', ":1: bad event: an event must be a JSON object, got array"),
    ('{"kind":"a","time":"soon"}\n', ":1: bad event: time: `soon` is not an RFC 3339"),
    ('{"kind":"a","kind":"b","time":"2026-06-15T14:20:00Z"}\n', ":1:"),
    ('{"kind":"safeguard_flag","time":"2026-06-15T14:20:00Z","org_id":7}\n',
     ":1: event not recorded: signal `repeated_safeguard_flags`"),
    ('{"kind":"safeguard_flag","time":"2026-06-15T14:20:00Z"}\n',
     "the event has no `event.org_id`"),
])
@pytest.mark.parametrize("command", ["observe", "eval"])
def test_bad_events_name_their_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lines: str, message: str, command: str
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(lines)
    argv = (["observe", "--rules", RULES, str(events)] if command == "observe" else
            ["eval", "--rules", RULES, "--events", str(events), str(CONTEXT)])
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {events}")
    assert message in err
    assert "Traceback" not in err


def test_a_missing_events_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "observe", "--rules", RULES, str(tmp_path / "none.jsonl"))
    assert code == 2
    assert "none.jsonl: cannot read" in err
