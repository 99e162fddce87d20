"""Build docs/errors.md: every check-time, run-time, input and bundle code, with real examples.

Check-time codes (``DiagnosticCode``) are shown with the first golden case in
``tests/golden/check/`` that reports them; the few that concern files rather than pack text
(``FILE_CODES``) are produced here by loading a small layout in a temporary directory.
Run-time codes (``RuntimeCode``) are shown by evaluating the rule and context in ``RUNTIME``
and printing the decision's error; bundle codes (``BundleCode``) by loading the bundles that
``BUNDLE`` makes (from a small signed bundle, with fixed keys) and printing the refusal.
So every example on the page is output of the current code.

Run ``python tests/golden/errors_doc.py`` after ``pytest tests/golden --update-goldens``;
``test_errors_doc.py`` fails when the committed page is out of date or a code has no entry.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from compliance.bundle import BundleCode, BundleError, build_bundle, bundle_verifier, check_bundle
from compliance.diagnostics import DIAGNOSTIC_CODES, INPUT_CODES, RUNTIME_CODES, SUMMARIES
from compliance.engine import Engine
from compliance.jsonread import JsonReadError, read_json
from compliance.loader import load_pack_set
from compliance.render import render_summary, render_text

HERE = Path(__file__).resolve().parent
CASES = HERE / "check"
MANIFEST = HERE / "packset.yaml"
DOC = HERE.parents[1] / "docs" / "errors.md"
_CODE = re.compile(r"^\S+: (error|warning|note)\[([a-z0-9-]+)\]", re.MULTILINE)

HEADER = """\
# Diagnostic and run-time error codes

Every problem the engine reports has a stable kebab-case code; tools and tests match on the
code, never on the message. There are three closed sets, all defined in
`src/compliance/diagnostics.py`:

- **Check-time codes** (`DiagnosticCode`): problems in rule packs, reported by
  `compliance check` (and raised together as `PackError` by `Engine.from_path`). Errors fail
  the check; warnings fail it only with `--strict`; notes are information.
- **Run-time codes** (`RuntimeCode`): a rule or the request context failed during
  evaluation. The decision fails closed (`effect: deny`) and lists the error in `errors`
  (see [decision.md](decision.md)); with `strict=True` (`compliance eval --strict`) the first
  one is raised as `EvaluationError`.
- **Input codes** (`InputCode`): a context document refused before evaluation (not JSON,
  duplicate keys, NaN, too large or too deep).
- **Bundle codes** (`BundleCode`, in `src/compliance/bundle/__init__.py`): why a signed
  pack-set bundle was refused (see [bundles.md](bundles.md)); `BundleError` carries every
  problem found, and the CLI prints one line each and exits 1 (2 for an unreadable bundle
  or key).

A code can be in more than one set (`no-matching-overload`, `undeclared-reference`): the checker
reports it when the types are known, evaluation when they are only known at run time.

Every example below is output of the current code: check-time examples are the golden tests
in `tests/golden/check/`, run-time examples are evaluated by `tests/golden/errors_doc.py`,
which generates this page (`tests/golden/test_errors_doc.py` fails when it is out of date).
Each section has a stable anchor: `#<code>` for check-time codes (SARIF `helpUri` links
there) and bundle codes (all `bundle-*`), `#run-time-<code>` and `#input-<code>` for the
others.

Contents: [check-time codes](#check-time-codes), [run-time codes](#run-time-codes),
[input codes](#input-codes), [bundle codes](#bundle-codes).
"""

CONTEXT: dict[str, Any] = {
    "principal": {"id": "p-1", "kind": "customer", "nationalities": ["US"],
                  "nationality_verified": True, "permanent_residence": ["US"], "country": "US",
                  "authorizations": []},
    "org": {"id": "o-1", "plan": "pro", "zdr": False, "legal_hold": False,
            "controlling_country": "US"},
    "request": {"id": "r-1", "time": "2026-07-01T12:00:00Z", "origin_country": "US",
                "origin_region": "", "model": "fable-5", "use_case": "coding",
                "risk_scores": {}, "surface": "api"},
}
"""The base request context of the run-time examples (it fits tests/golden/packset.yaml)."""


@dataclass(frozen=True)
class FileCode:
    """A check-time code about files: its meaning and, where reproducible, the paths to load."""

    meaning: str
    layout: dict[str, str] = field(default_factory=dict)
    paths: tuple[str, ...] = ()
    manifest: bool = True


FILE_CODES: dict[str, FileCode] = {
    "file-not-found": FileCode(
        "A path given to `compliance check` or `Engine.from_path` does not exist.",
        {"packs/packset.yaml": "MANIFEST"}, ("packs", "packs/sanctions.yaml")),
    "io-error": FileCode(
        "A pack file exists but cannot be read (permissions, a path too long, a read error); the "
        "message carries the operating system's reason, e.g. "
        "``error[io-error]: cannot read `packs/p.yaml`: Permission denied``."),
    "duplicate-case": FileCode(
        "`compliance test`: two cases of one suite have the same name (matrix cells are "
        "named `case [key=fixture, ...]`, so they collide only when written twice)."),
    "duplicate-suite": FileCode(
        "`compliance test`: two suite files declare the same `suite:` name; names are unique "
        "within a run, so reports and filters can tell cases apart."),
    "unknown-fixture": FileCode(
        "`compliance test`: a case's `context` (or `matrix`) names a fixture that the suite's "
        "`fixtures:` does not declare under that context key; a did-you-mean is given."),
    "unknown-rule": FileCode(
        "`compliance test`: an `expect: matched:` entry (or a `coverage_exempt` rule) names a "
        "`pack/rule` that no pack of the suite's pack set defines; a did-you-mean is given."),
    "not-a-file": FileCode(
        "A path names a FIFO, a device (`/dev/zero`), a socket or another file that is not a "
        "regular file or directory. It is refused before anything is read, so a pack path can "
        "never block forever or stream without end, e.g. "
        "``error[not-a-file]: `/dev/zero` is a device, not a regular file``."),
    "missing-manifest": FileCode(
        "No `packset.yaml` was found in the given directories and no schema was passed, so "
        "the request context is unknown and no pack can be checked.",
        {"packs/p.yaml": 'pack: p\nversion: "1"\ntier: policy\nrules:\n'
                         '  - {id: r, when: "true", effect: deny}\n'}, ("packs",),
        manifest=False),
}


@dataclass(frozen=True)
class RuntimeCase:
    """A run-time code: what it means and a pack plus context change that produce it."""

    meaning: str
    rules: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


def _rule(when: str, extra: str = "") -> str:
    quoted = "'" + when.replace("'", "''") + "'"
    return f"  - id: example\n    when: {quoted}\n    effect: deny\n{extra}"


RUNTIME: dict[str, RuntimeCase] = {
    "store-unavailable": RuntimeCase(
        "The signal store (e.g. a shared Redis) could not be reached, timed out or replied "
        "with an error, so it is not known which facts hold for the request. `facts` is left "
        "out of the evaluation (rules reading `facts.<name>` are unknown and follow their "
        "`on_unknown`) and the decision fails closed with this error; it never reads as "
        "\"no fact\". `pack` and `rule` are empty."),
    "outside-horizon": RuntimeCase(
        "`request.time` is further from the signal store's clock than its horizon (1 h by "
        "default), beyond which the store may have dropped what the answer needs; it refuses "
        "instead of guessing and the decision fails closed as for `store-unavailable`. Replay "
        "the event stream into a fresh store (`compliance eval --events`) to decide a past "
        "request exactly."),
    "bad-context": RuntimeCase(
        "The request context does not fit the declared schema (a value of the wrong type, "
        "a malformed timestamp, a context that is not an object). The message names the "
        "attribute; `pack` and `rule` are empty.",
        _rule('request.time > timestamp("2026-01-01T00:00:00Z")'),
        {"request.time": "yesterday"}),
    "cost-limit": RuntimeCase(
        "Evaluation exceeded a run-time bound: comprehensions over context lists did more "
        "iterations than allowed, or an expression nested too deeply to evaluate. The check "
        "stage rejects rules whose worst case exceeds the budget (`cost-exceeded`), so this "
        "is the run-time backstop for what a static bound cannot see."),
    "division-by-zero": RuntimeCase(
        "Integer division by zero (`int` or `uint`; `double` division follows IEEE 754).",
        _rule("1 / size(request.origin_region) > 0")),
    "eval-error": RuntimeCase(
        "The cel-python reference backend (`backend=\"interpreter\"`, used by the "
        "differential tests) failed in a way that has no more precise code; the message "
        "carries cel-python's own text. The default compiled backend never reports it."),
    "eval-type-error": RuntimeCase(
        "A condition (`when`, `unless`, a variable used as one) produced a value that is "
        "not a bool. The checker rejects this when the type is known (`non-bool-condition`); "
        "with `dyn(...)` it is only found at run time.",
        _rule("dyn(request.model)")),
    "internal-error": RuntimeCase(
        "An unexpected exception inside evaluation (a bug in the engine, or a value no "
        "check anticipated). The rule being evaluated fails closed and is named; the message "
        "gives the exception's type and first line. Strict mode raises `EvaluationError` "
        "with the exception chained. Please report it."),
    "invalid-argument": RuntimeCase(
        "A function received an argument it cannot use: a string that is not a number for "
        "`int()`, an index out of range, a malformed timestamp or duration string, an "
        "unknown time zone, invalid UTF-8.",
        _rule("int(request.use_case) > 0")),
    "modulus-by-zero": RuntimeCase(
        "Integer modulus by zero.",
        _rule("size(request.model) % size(request.origin_region) == 1")),
    "no-matching-overload": RuntimeCase(
        "An operator or function was applied to run-time types it has no overload for "
        "(possible only through `dyn`, which the checker cannot see through), or a "
        "comprehension ranges over a value that is neither a list nor a map.",
        _rule("dyn(request.model) + 1 > 0")),
    "no-such-field": RuntimeCase(
        "A field selection (`x.f`, `has(x.f)`) on a value that has no fields, such as a "
        "string or a number; possible only through `dyn`. (Selecting an absent key of a map "
        "is `no-such-key`; a declared but absent context attribute is an unknown, handled "
        "by `on_unknown`.)",
        _rule('dyn(request.model).name == "fable"')),
    "no-such-key": RuntimeCase(
        "A map index with a key the map does not hold (an absent key of a declared context "
        "map is an unknown attribute instead, handled by `on_unknown`).",
        _rule('{"bio": 1}[request.use_case] > 0')),
    "no-such-type": RuntimeCase(
        "A type name used as a value (`type(x) == T`) that CEL does not know. The checker "
        "reports unknown names as `undeclared-reference` first, so this appears only where "
        "checking was skipped."),
    "overflow": RuntimeCase(
        "Integer arithmetic or a conversion left the 64-bit range, or a timestamp or duration "
        "left CEL's range (years 0001 to 9999, about ±292 years of nanoseconds).",
        _rule("9223372036854775807 + size(request.model) > 0")),
    "resource-exhausted": RuntimeCase(
        "Evaluation ran out of memory or recursion depth (`MemoryError`, `RecursionError`). "
        "The rule being evaluated fails closed; the cost limits (`cost-limit`) normally stop "
        "such work before it starts."),
    "route-loop": RuntimeCase(
        "A second `route` in one decision: the model routed to was itself routed again. "
        "Routing is allowed once (two passes); the decision fails closed.",
        "  - id: route-fable\n    when: request.model == \"fable-5\"\n    effect: intervene\n"
        "    intervention: {kind: route, target: opus-4.8, disclosure: visible, "
        "message: \"using opus-4.8\"}\n"
        "  - id: route-opus\n    when: request.model == \"opus-4.8\"\n    effect: intervene\n"
        "    intervention: {kind: route, target: haiku-4, disclosure: visible, "
        "message: \"using haiku-4\"}\n"),
    "undeclared-reference": RuntimeCase(
        "A name or function that is not declared. The checker reports it for every pack "
        "(`compliance check`), so at run time it appears only for expressions compiled "
        "without checking (the library's `compile_expr` used directly)."),
    "unknown-attribute": RuntimeCase(
        "A rule with `on_unknown: error` needed context attributes that are absent; the "
        "message lists them (the decision's `missing` too).",
        _rule('request.risk_scores["cyber"] > 0.5', "    on_unknown: error\n")),
}


@dataclass(frozen=True)
class InputCase:
    """A code of a refused input document: what it means and a document that produces it."""

    meaning: str
    document: str | None = None  # a document `read_json` refuses with this code, if it is one


INPUT: dict[str, InputCase] = {
    "duplicate-key": InputCase(
        "An object holds the same key twice. Python's `json` would keep the last value; "
        "which one the sender meant is unknowable, so the document is refused.",
        '{"request": {"model": "opus-4.8"}, "request": {"model": "fable-5"}}'),
    "invalid-json": InputCase(
        "Not a JSON document: a syntax error (with line and column), bytes that are not "
        "UTF-8, an integer of more than 100 digits, or a lone surrogate escape "
        "(`\\ud800`), which is not text.",
        '{"request": {"model": "fable-5",}}'),
    "json-too-deep": InputCase(
        "Arrays and objects nest deeper than the limit (64 levels by default), checked "
        "before parsing so a hostile document cannot exhaust the parser's recursion.",
        '{"a": ' * 65 + "1" + "}" * 65),
    "json-too-large": InputCase(
        "The document is larger than the limit (1 MiB by default; `compliance eval "
        "--max-context-bytes`), checked before it is parsed.",
        '{"request": {"model": "' + "x" * (1 << 20) + '"}}'),
    "non-finite-number": InputCase(
        "`NaN`, `Infinity` or `-Infinity` (which Python's `json` accepts but JSON does "
        "not), or a number too large for a double (`1e999`).",
        '{"request": {"risk_scores": {"bio": NaN}}}'),
    "not-an-object": InputCase(
        "A line of traffic (`compliance diff`), or a decision record's `context`, is valid JSON "
        "but not an object (`[1, 2]`, `\"text\"`, `null`); the line is counted in the report's "
        "`errors` with its number. (`compliance eval` says the same in words.)"),
    "unreadable-file": InputCase(
        "A traffic file stops being readable part-way (a truncated or corrupt gzip stream, a "
        "read error): the lines before it count, the rest of that file is reported as one "
        "error at the line where reading stopped."),
}


BUNDLE_CODES = frozenset(get_args(BundleCode))
Members = dict[str, bytes]


@dataclass(frozen=True)
class BundleCase:
    """A bundle code: its meaning and how to make a bundle (or key) that is refused with it.

    ``make`` edits the members of ``rules.bundle`` (signed with the fixed key); ``key`` names
    the public key file to verify with, ``path`` the bundle file to load.
    """

    meaning: str
    make: Callable[[Members], Members] | None = None
    key: str = "pub.pem"
    path: str = "rules.bundle"
    unsigned: bool = False


def _edit(name: str, data: bytes | None) -> Callable[[Members], Members]:
    def edit(members: Members) -> Members:
        changed = dict(members)
        if data is None:
            changed.pop(name)
        else:
            changed[name] = data
        return changed
    return edit


BUNDLE: dict[str, BundleCase] = {
    "bundle-bad-key": BundleCase(
        "The public key file given to verify with (`--public-key`, `Engine.from_bundle("
        "public_key=...)`) cannot be read or is not an Ed25519 public key in PEM "
        "(SubjectPublicKeyInfo), so nothing could be verified. The exception is a "
        "`BundleKeyError`, both a `BundleError` and the `KeyFileError` of the signing "
        "module; the CLI exits 2.", lambda m: m, key="packs/p.yaml"),
    "bundle-bad-signature": BundleCase(
        "`bundle.sig` does not verify with the key given over the manifest (the manifest "
        "was changed, or another key signed it), or is not a signature record.",
        lambda m: m, key="other-pub.pem"),
    "bundle-changed-file": BundleCase(
        "A file's sha256 differs from the one the signed manifest lists for it.",
        lambda m: _edit("packs/p.yaml", m["packs/p.yaml"] + b"# edited\n")(m)),
    "bundle-digest-mismatch": BundleCase(
        "Every file verified, but the pack-set digest computed from the parsed packs is not "
        "the one the manifest states (a manifest built by another tool, or by hand)."),
    "bundle-duplicate-member": BundleCase(
        "The same member name appears twice in the archive (which copy a reader takes "
        "differs between tools, so neither is trusted)."),
    "bundle-extra-file": BundleCase(
        "A member the manifest does not list (a manifest covering only some files verifies "
        "nothing), or a member outside `bundle.json`, `bundle.sig` and `packs/`.",
        _edit("packs/extra.yaml", b"pack: extra\n")),
    "bundle-malformed": BundleCase(
        "Not a readable tar archive, an empty one, or a `bundle.json` that is not a valid "
        "manifest.", path="notes.bundle"),
    "bundle-missing-file": BundleCase(
        "A file the manifest lists is not in the bundle.", _edit("packs/p.yaml", None)),
    "bundle-no-manifest": BundleCase(
        "No `bundle.json`: the archive is not a compliance bundle.",
        _edit("bundle.json", None)),
    "bundle-too-large": BundleCase(
        "The bundle, a member or the manifest is over its size limit, or there are too many "
        "members (`BundleLimits`: 32 MiB, 1024 members, 1 MiB manifest by default); checked "
        "before anything is parsed."),
    "bundle-unreadable": BundleCase(
        "No such file, not a regular file (a directory, a device), or a read error; the CLI "
        "exits 2.", path="absent.bundle"),
    "bundle-unsafe-member": BundleCase(
        "A member that is not a regular file (a symbolic or hard link, a directory, a "
        "device) or whose name is absolute, has `..`, `.` or hidden segments, backslashes "
        "or control characters, or is too long or deep. Nothing is ever extracted to disk."),
    "bundle-unsigned": BundleCase(
        "No `bundle.sig`: the bundle was built without `--sign`. An unsigned bundle is never "
        "loaded.", lambda m: m, unsigned=True),
    "bundle-unsupported-format": BundleCase(
        "The manifest's `format` is not `compliance-bundle/1`, the one this version reads."),
}

_FIXED_KEYS = {"key.pem": bytes(range(1, 33)), "other.pem": bytes(range(33, 65))}
_PACK = 'pack: p\nversion: "1"\ntier: policy\nrules:\n  - {id: r, when: "true", effect: deny}\n'


def _bundle_examples() -> dict[str, str]:
    """Code -> what ``compliance bundle verify`` prints for the bundle its case makes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
    )

    from compliance.signing import Signer

    out: dict[str, str] = {}
    with _workdir() as root:
        for name, seed in _FIXED_KEYS.items():
            key = Ed25519PrivateKey.from_private_bytes(seed)
            (root / name).write_bytes(key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
            (root / name.replace(".pem", "-pub.pem").replace("key-", "")).write_bytes(
                key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))
        (root / "packs").mkdir()
        (root / "packs" / "packset.yaml").write_text(MANIFEST.read_text(encoding="utf-8"),
                                                     encoding="utf-8")
        (root / "packs" / "p.yaml").write_text(_PACK, encoding="utf-8")
        (root / "notes.bundle").write_text("not an archive\n", encoding="utf-8")
        signer = Signer.from_file("key.pem")
        for code, case in sorted(BUNDLE.items()):
            if case.make is None and case.path == "rules.bundle":
                continue
            build_bundle("packs", "built.bundle", signer=None if case.unsigned else signer,
                         created_by="compliance")
            with tarfile.open("built.bundle") as tar:
                members = {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                           for m in tar.getmembers() if m.isfile()}
            made = case.make(members) if case.make is not None else None
            if made is not None:
                with tarfile.open(root / "rules.bundle", "w", format=tarfile.PAX_FORMAT) as tar:
                    for name, data in made.items():
                        info = tarfile.TarInfo(name)
                        info.size = len(data)
                        tar.addfile(info, io.BytesIO(data))
            try:
                check_bundle(case.path, bundle_verifier(case.key))
            except BundleError as exc:
                if exc.code != code:
                    raise AssertionError(f"the `{code}` example was refused as {exc.code}") \
                        from None
                out[code] = "\n".join(f"error: {exc.source}: {p}" for p in exc.problems)
            else:
                raise AssertionError(f"the `{code}` example was accepted")
    return out


def _input_example(case: InputCase) -> str | None:
    if case.document is None:
        return None
    try:
        read_json(case.document)
    except JsonReadError as exc:
        return str(exc)
    raise AssertionError(f"{case.document[:60]!r} was accepted")


def _set(context: dict[str, Any], dotted: str, value: object) -> None:
    *parents, last = dotted.split(".")
    node = context
    for name in parents:
        node = node[name]
    node[last] = value


@contextlib.contextmanager
def _workdir() -> Any:
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        yield Path(tmp)


def _file_example(spec: FileCode) -> str | None:
    if not spec.paths:
        return None
    with _workdir() as root:
        for name, text in spec.layout.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            body = MANIFEST.read_text(encoding="utf-8") if text == "MANIFEST" else text
            target.write_text(body, encoding="utf-8")
        _, diagnostics = load_pack_set(list(spec.paths))
        items = sorted(diagnostics, key=lambda d: d.sort_key)
        return render_text(items, {}) + "\n" + render_summary(items)


def _pack(rules: str) -> str:
    return f'pack: example\nversion: "1"\ntier: policy\nrules:\n{rules}'


def _runtime_example(code: str, case: RuntimeCase) -> tuple[str, str, str] | None:
    """The pack, the context change and the rendered error of one run-time example."""
    if case.rules is None:
        return None
    context = copy.deepcopy(CONTEXT)
    for dotted, value in case.context.items():
        _set(context, dotted, value)
    with _workdir() as root:
        (root / "packset.yaml").write_text(MANIFEST.read_text(encoding="utf-8"), "utf-8")
        (root / "pack.yaml").write_text(_pack(case.rules), encoding="utf-8")
        decision = Engine.from_path(".").evaluate(context)
    errors = [e.model_dump(mode="json") for e in decision.errors]
    if code not in [e["code"] for e in errors]:
        raise AssertionError(f"the `{code}` example produced {errors} instead")
    shown = json.dumps({"effect": decision.effect, "errors": errors}, indent=2,
                       ensure_ascii=False)
    change = json.dumps(case.context, ensure_ascii=False) if case.context else ""
    return _pack(case.rules), change, shown


def golden_codes() -> dict[str, tuple[str, str, str]]:
    """Code -> (severity, pack source, rendered output) of the first golden case showing it."""
    seen: dict[str, tuple[str, str, str]] = {}
    for case in sorted(p for p in CASES.iterdir() if (p / "expected.txt").exists()):
        expected = (case / "expected.txt").read_text(encoding="utf-8")
        pack = case / "pack.yaml"
        source = (pack.read_bytes().decode("utf-8", errors="replace") if pack.exists()
                  else "# (input generated by make.py)")
        for severity, code in _CODE.findall(expected):
            seen.setdefault(code, (severity, source, expected))
    return seen


def problems() -> list[str]:
    """What keeps the page from covering exactly the closed code sets (empty when complete)."""
    goldens = golden_codes()
    out = []
    for code in sorted(DIAGNOSTIC_CODES - goldens.keys() - FILE_CODES.keys()):
        out.append(f"check-time code `{code}` has no golden case in tests/golden/check/ "
                   "(add one, or a FILE_CODES entry in tests/golden/errors_doc.py)")
    for code in sorted(goldens.keys() - DIAGNOSTIC_CODES):
        out.append(f"golden cases report `{code}`, which is not in DiagnosticCode "
                   "(src/compliance/diagnostics.py)")
    for code in sorted(FILE_CODES.keys() - DIAGNOSTIC_CODES):
        out.append(f"FILE_CODES documents `{code}`, which is not in DiagnosticCode")
    for code in sorted(RUNTIME_CODES - RUNTIME.keys()):
        out.append(f"run-time code `{code}` has no RUNTIME entry in tests/golden/errors_doc.py")
    for code in sorted(RUNTIME.keys() - RUNTIME_CODES):
        out.append(f"RUNTIME documents `{code}`, which is not in RuntimeCode")
    for code in sorted(INPUT_CODES ^ INPUT.keys()):
        out.append(f"input code `{code}` is not both in InputCode and in INPUT")
    for code in sorted(BUNDLE_CODES ^ BUNDLE.keys()):
        out.append(f"bundle code `{code}` is not both in BundleCode and in BUNDLE")
    return out


def _check_time() -> list[str]:
    goldens = golden_codes()
    parts = ["\n## Check-time codes\n"]
    for code in sorted(DIAGNOSTIC_CODES):
        if code in goldens:
            severity, source, expected = goldens[code]
            if len(source) > 2000:
                source = source[:2000] + "\n# ... (truncated)\n"
            parts.append(f"\n<a id=\"{code}\"></a>\n\n### `{code}` ({severity})\n\n"
                         f"{SUMMARIES[code][:1].upper()}{SUMMARIES[code][1:]}.\n\n"
                         f"```yaml\n{source.rstrip()}\n```\n\n"
                         f"```text\n{expected.rstrip()}\n```\n")
        elif code in FILE_CODES:
            spec = FILE_CODES[code]
            parts.append(f"\n<a id=\"{code}\"></a>\n\n### `{code}` (error)\n\n{spec.meaning}\n")
            shown = _file_example(spec)
            if shown is not None:
                layout = ", ".join(f"`{n}`" for n in spec.layout)
                args = " ".join(spec.paths)
                parts.append(f"\nWith {layout} on disk, `compliance check {args}` prints:\n\n"
                             f"```text\n{shown.rstrip()}\n```\n")
    return parts


def _run_time() -> list[str]:
    parts = ["\n## Run-time codes\n\nExamples are evaluated against the pack set of "
             "`tests/golden/packset.yaml` with a complete base context (a verified US "
             "customer asking `fable-5` for `coding` on 2026-07-01), changed as shown.\n"]
    for code in sorted(RUNTIME_CODES):
        case = RUNTIME[code]
        parts.append(f"\n<a id=\"run-time-{code}\"></a>\n\n### `{code}` (run-time)\n\n"
                     f"{case.meaning}\n")
        example = _runtime_example(code, case)
        if example is None:
            continue
        pack, change, shown = example
        parts.append(f"\n```yaml\n{pack.rstrip()}\n```\n\n")
        if change:
            parts.append(f"Context change: `{change}`\n\n")
        parts.append(f"```json\n{shown}\n```\n")
    return parts


def _input() -> list[str]:
    parts = ["\n## Input codes\n\nA context document (`compliance eval`, a traffic line) "
             "that is refused before evaluation, by `compliance.jsonread.read_json`. The CLI "
             "prints the message and exits 2.\n"]
    for code in sorted(INPUT_CODES):
        case = INPUT[code]
        parts.append(f"\n<a id=\"input-{code}\"></a>\n\n### `{code}` (input)\n\n"
                     f"{case.meaning}\n")
        example = _input_example(case)
        if case.document is not None and example is not None:
            doc = case.document
            shown = doc if len(doc) <= 120 else doc[:100] + "…"
            parts.append(f"\n```json\n{shown}\n```\n\n```text\n{example}\n```\n")
    return parts


def _bundle() -> list[str]:
    parts = ["\n## Bundle codes\n\nA pack-set bundle refused by `Engine.from_bundle`, "
             "`EngineHolder.watch` (the old engine keeps serving) or any command given one "
             "(`compliance bundle verify`, `eval`, `check`, `diff`, ...). Examples start from "
             "a bundle of a one-pack set signed with `key.pem`, verified with `pub.pem`, "
             "changed as described; the output is `compliance bundle verify`'s.\n"]
    examples = _bundle_examples()
    for code in sorted(BUNDLE_CODES):
        case = BUNDLE[code]
        parts.append(f"\n<a id=\"{code}\"></a>\n\n### `{code}` (bundle)\n\n"
                     f"{case.meaning}\n")
        if code in examples:
            parts.append(f"\n```text\n{examples[code]}\n```\n")
    return parts


def build() -> str:
    """The whole page: check-time, run-time, input, then bundle codes, each sorted by code."""
    return "".join([HEADER, *_check_time(), *_run_time(), *_input(), *_bundle()])


if __name__ == "__main__":
    missing = problems()
    if missing:
        sys.stderr.write("\n".join(missing) + "\n")
        sys.exit(1)
    DOC.write_text(build(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
