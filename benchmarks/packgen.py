"""Synthetic pack sets and request contexts modelled on the shipped packs in ``rules/``.

Why synthetic: the shipped set has a dozen rules; the engine must stay fast at a thousand.
The generated rules have the shapes of the real ones (export control on named models,
sanctions on origin countries, use-case interventions, per-organisation contract terms,
per-model restrictions, a few global rules that are not indexable), and, as in production,
most rules target one model, organisation or use case, so a context matches 0-3 of them.

Every rule is generated twice: as YAML for the engine and as a hand-written Python lambda
for the plain-Python baseline, from the same parameters, so both do the same matching.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent

CANONICAL_CONTEXT: dict[str, Any] = {
    "principal": {
        "id": "string", "kind": {"type": "string", "enum": ["customer", "employee", "service",
                                                         "government"]},
        "nationalities": "list<string>", "nationality_verified": "bool",
        "permanent_residence": "list<string>", "country": "string",
        "authorizations": "list<string>",
    },
    "org": {
        "id": "string", "plan": {"type": "string", "enum": ["free", "pro", "team", "enterprise",
                                                          "government"]},
        "zdr": "bool", "legal_hold": "bool", "controlling_country": "string",
    },
    "request": {
        "id": "string", "time": "timestamp", "origin_country": "string",
        "origin_region": "string", "model": "string", "use_case": "string",
        "risk_scores": "map<string, double>", "surface": {"type": "string",
                                                        "enum": ["api", "chat", "agent"]},
    },
}
"""The canonical context (docs/context.md), used when rules/packset.yaml is not there to copy."""

REAL_MODELS = ["opus-4.8", "sonnet-4.5", "haiku-4.5", "fable-5", "mythos-5"]
USE_CASES = ["general", "coding", "cyber", "bio", "chem", "distillation", "llm-dev",
             "surveillance", "weapons", "translation", "legal", "medical"]
COMMON_COUNTRIES = ["US", "GB", "DE", "FR", "JP", "IN", "BR", "CA", "AU", "KR", "NL", "ES"]
SANCTIONED = ["CU", "IR", "KP"]
ORG_SPACE = 20_000

Predicate = Callable[[Mapping[str, Any]], bool]


@dataclass
class GenRule:
    """One generated rule: its YAML mapping, and the same matching as a Python lambda."""

    yaml: dict[str, Any]
    predicate: Predicate
    effect: str  # deny, intervene-route, intervene-refuse, obligate
    # How a careful engineer would file the rule at compile time: (attribute, its values)
    # with attribute one of model, use_case, org, country; None for rules every context meets.
    bucket: tuple[str, tuple[str, ...]] | None = None


@dataclass
class GenPackSet:
    """A pack set as files plus the Python baseline over the same rules."""

    packs: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: list[GenRule] = field(default_factory=list)
    orgs_with_rules: list[str] = field(default_factory=list)
    synthetic_models: list[str] = field(default_factory=list)

    def write(self, directory: Path) -> Path:
        """Write ``packset.yaml`` and one YAML file per pack into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        manifest = {"packset": "benchmark", "default_effect": "allow", "context": _context()}
        (directory / "packset.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
        for name, pack in self.packs.items():
            text = yaml.dump(pack, Dumper=_Dumper, sort_keys=False, width=120)
            (directory / f"{name}.yaml").write_text(text)
        return directory


class _Dumper(yaml.SafeDumper):
    """Writes multi-line conditions as literal blocks, as policy authors do."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _context() -> dict[str, Any]:
    """The manifest's context: a copy of rules/packset.yaml's when it exists."""
    shipped = REPO / "rules" / "packset.yaml"
    if shipped.exists():
        loaded = yaml.safe_load(shipped.read_text())
        if isinstance(loaded, dict) and isinstance(loaded.get("context"), dict):
            return loaded["context"]
    return CANONICAL_CONTEXT


def _g(ctx: Mapping[str, Any], root: str, name: str) -> Any:
    part = ctx.get(root)
    return part.get(name) if isinstance(part, dict) else None


def generate(n: int, seed: int = 7) -> GenPackSet:
    """A pack set of exactly ``n`` rules (n >= 10) in the mix described in the module doc."""
    rnd = random.Random(seed)
    out = GenPackSet()
    n_global = 3
    n_export = max(1, n * 5 // 100)
    n_sanctions = max(1, n * 5 // 100)
    n_usecase = max(1, n * 20 // 100)
    n_model = max(1, n * 25 // 100)
    n_org = n - n_global - n_export - n_sanctions - n_usecase - n_model
    out.synthetic_models = [f"model-{k}" for k in range(max(20, n // 10))]
    _global_rules(out)
    _export_rules(out, n_export)
    _sanctions_rules(out, n_sanctions, rnd)
    _usecase_rules(out, n_usecase, rnd)
    _model_rules(out, n_model, rnd)
    _org_rules(out, n_org, rnd)
    assert len(out.rules) == n, (len(out.rules), n)
    return out


def _add(out: GenPackSet, pack: str, header: dict[str, Any], rule: GenRule) -> None:
    """Append ``rule`` to pack ``pack`` (a new file every 100 rules)."""
    names = [name for name in out.packs if name.rsplit("-", 1)[0] == pack]
    if not names or len(out.packs[names[-1]]["rules"]) >= 100:
        names.append(f"{pack}-{len(names)}")
        out.packs[names[-1]] = {"pack": names[-1], "version": "2026.06.12-1", **header,
                                "rules": []}
    name = names[-1]
    out.packs[name]["rules"].append(rule.yaml)
    out.rules.append(rule)


def _global_rules(out: GenPackSet) -> None:
    """Rules every context meets: sanctions with has(), ZDR terms, prohibited use cases."""
    law = {"tier": "law", "authority": "OFAC sanctions programs"}
    listed = frozenset(SANCTIONED)

    def sanctioned(c: Mapping[str, Any]) -> bool:
        origin = _g(c, "request", "origin_country")
        return origin in listed or _g(c, "principal", "country") in listed

    _add(out, "global-law", law, GenRule({
        "id": "comprehensive-sanctions",
        "when": 'request.origin_country in ["CU", "IR", "KP"]\n'
                '|| (has(principal.country) && principal.country in ["CU", "IR", "KP"])',
        "effect": "deny", "reason": "Sanctioned jurisdiction",
    }, sanctioned, "deny"))
    policy = {"tier": "policy", "authority": "Usage policy"}
    _add(out, "global-policy", policy, GenRule({
        "id": "zdr-terms", "when": "org.zdr",
        "obligations": {"retention": {"max_days": 0}, "training": "prohibited"},
    }, lambda c: _g(c, "org", "zdr") is True, "obligate"))
    banned = frozenset({"surveillance", "weapons"})
    _add(out, "global-policy", policy, GenRule({
        "id": "prohibited-use-cases", "when": 'request.use_case in ["surveillance", "weapons"]',
        "effect": "deny", "reason": "Prohibited use case {request.use_case}",
    }, lambda c: _g(c, "request", "use_case") in banned, "deny",
        ("use_case", tuple(sorted(banned)))))


def _export_rules(out: GenPackSet, count: int) -> None:
    """Export-control directives: named models denied to non-US persons from an instant."""
    header = {"tier": "law", "authority": "Export-control directive",
              "effective": {"from": "2026-06-12T17:21:00[America/New_York]"}}
    for k in range(count):
        models = ["fable-5", "mythos-5"] if k == 0 else [f"model-{2 * k}", f"model-{2 * k + 1}"]
        mset = frozenset(models)
        listed = ", ".join(f'"{m}"' for m in models)

        def pred(c: Mapping[str, Any], mset: frozenset[str] = mset) -> bool:
            if _g(c, "request", "model") not in mset:
                return False
            nat = _g(c, "principal", "nationalities") or ()
            res = _g(c, "principal", "permanent_residence") or ()
            auth = _g(c, "principal", "authorizations") or ()
            return not ("US" in nat or "US" in res) and "BIS-LICENSE-FABLE" not in auth

        _add(out, "export-control", header, GenRule({
            "id": f"suspension-{k}",
            "when": f'request.model in [{listed}]\n'
                    '&& !("US" in principal.nationalities\n'
                    '     || "US" in principal.permanent_residence)',
            "unless": '"BIS-LICENSE-FABLE" in principal.authorizations',
            "effect": "deny", "on_unknown": "deny",
            "reason": "Export-control directive: {request.model} suspended for non-US persons",
        }, pred, "deny", ("model", tuple(models))))


def _sanctions_rules(out: GenPackSet, count: int, rnd: random.Random) -> None:
    """One rule per listed jurisdiction (rare countries), as regional sanctions lists read."""
    header = {"tier": "law", "authority": "Regional sanctions"}
    rare = [a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    rare = [c for c in rare if c not in COMMON_COUNTRIES and c not in SANCTIONED]
    for k, country in enumerate(rnd.sample(rare, count)):
        _add(out, "sanctions", header, GenRule({
            "id": f"jurisdiction-{k}", "when": f'request.origin_country == "{country}"',
            "effect": "deny", "reason": f"Sanctioned jurisdiction {country}",
        }, lambda c, country=country: _g(c, "request", "origin_country") == country, "deny",
            ("country", (country,))))


def _usecase_rules(out: GenPackSet, count: int, rnd: random.Random) -> None:
    """Interventions for a use case on a model: refusals and visible hand-offs."""
    header = {"tier": "policy", "authority": "Usage policy: interventions"}
    for k in range(count):
        use_case = USE_CASES[2 + k % 5] if k < 10 else f"uc-{k}"
        model = REAL_MODELS[k % 5] if k < 10 else rnd.choice(out.synthetic_models)
        route = k % 2 == 0
        rule: dict[str, Any] = {
            "id": f"{use_case}-{model}-{k}",
            "when": f'request.use_case == "{use_case}" && request.model == "{model}"',
            "effect": "intervene",
        }
        if route:
            rule["intervention"] = {
                "kind": "route", "target": "opus-4.8", "disclosure": "visible",
                "message": "This request was handled by opus-4.8 under our usage policy."}
        else:
            rule["intervention"] = {"kind": "refuse", "disclosure": "visible",
                                    "message": "This request was declined under our usage policy."}

        def pred(c: Mapping[str, Any], u: str = use_case, m: str = model) -> bool:
            return _g(c, "request", "use_case") == u and _g(c, "request", "model") == m

        _add(out, "interventions", header, GenRule(
            rule, pred, "intervene-route" if route else "intervene-refuse",
            ("use_case", (use_case,))))


def _model_rules(out: GenPackSet, count: int, rnd: random.Random) -> None:
    """Per-model restrictions: a model closed to free plans, or to agent surfaces."""
    header = {"tier": "product", "authority": "Model availability"}
    for k in range(count):
        model = out.synthetic_models[k % len(out.synthetic_models)]
        field_, value = ("plan", "free") if rnd.random() < 0.5 else ("surface", "agent")
        root = "org" if field_ == "plan" else "request"
        _add(out, "models", header, GenRule({
            "id": f"{model}-{field_}-{k}",
            "when": f'request.model == "{model}" && {root}.{field_} == "{value}"',
            "effect": "deny", "reason": f"{{request.model}} is not available for {field_} {value}",
        }, lambda c, m=model, r=root, f=field_, v=value: (
            _g(c, "request", "model") == m and _g(c, r, f) == v), "deny", ("model", (model,))))


def _org_rules(out: GenPackSet, count: int, rnd: random.Random) -> None:
    """Per-organisation contract terms: retention, logging, or a suspended organisation."""
    header = {"tier": "contract", "authority": "Enterprise agreements"}
    orgs = rnd.sample(range(ORG_SPACE), count)
    for k, number in enumerate(orgs):
        org = f"org-{number:05d}"
        out.orgs_with_rules.append(org)
        rule: dict[str, Any] = {"id": f"{org}-terms", "when": f'org.id == "{org}"'}
        kind = k % 3
        if kind == 0:
            rule["obligations"] = {"retention": {"min_days": 90}}
            effect = "obligate"
        elif kind == 1:
            rule["obligations"] = {"logging": "full"}
            effect = "obligate"
        else:
            rule.update(effect="deny", reason="Organisation suspended pending review")
            effect = "deny"
        _add(out, "orgs", header, GenRule(
            rule, lambda c, o=org: _g(c, "org", "id") == o, effect, ("org", (org,))))


def contexts(gen: GenPackSet, count: int, seed: int = 11) -> list[dict[str, Any]]:
    """``count`` realistic request contexts (JSON-shaped, as a gateway would send them)."""
    rnd = random.Random(seed)
    return [_context_one(gen, rnd, i) for i in range(count)]


def _context_one(gen: GenPackSet, rnd: random.Random, i: int) -> dict[str, Any]:
    if gen.orgs_with_rules and rnd.random() < 0.1:
        org = rnd.choice(gen.orgs_with_rules)
    else:
        org = f"org-{rnd.randrange(ORG_SPACE):05d}"
    model = rnd.choice(REAL_MODELS) if rnd.random() < 0.7 else rnd.choice(gen.synthetic_models)
    r = rnd.random()
    use_case = "general" if r < 0.5 else "coding" if r < 0.75 else rnd.choice(USE_CASES[2:])
    country = rnd.choice(COMMON_COUNTRIES) if rnd.random() < 0.97 else rnd.choice(SANCTIONED)
    principal: dict[str, Any] = {
        "id": f"user-{rnd.randrange(10**6)}",
        "kind": rnd.choice(["customer"] * 8 + ["employee", "government"]),
        "authorizations": [],
    }
    if rnd.random() < 0.4:  # nationality is known for a minority of principals
        principal["nationalities"] = [country] if rnd.random() < 0.9 else [country, "US"]
        principal["nationality_verified"] = rnd.random() < 0.5
        principal["permanent_residence"] = []
    if rnd.random() < 0.6:
        principal["country"] = country
    return {
        "principal": principal,
        "org": {
            "id": org, "plan": rnd.choice(["free", "pro", "team", "enterprise"]),
            "zdr": rnd.random() < 0.1, "legal_hold": False,
        },
        "request": {
            "id": f"req-{i}", "time": f"2026-07-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
            "origin_country": country, "model": model, "use_case": use_case,
            "risk_scores": {use_case: round(rnd.random(), 2)},
            "surface": rnd.choice(["api", "chat", "agent"]),
        },
    }


Decide = Callable[[Mapping[str, Any]], dict[str, Any]]
_Entry = tuple[Predicate, str, int]


def _outcome(ctx: Mapping[str, Any], matched: list[tuple[int, str]]) -> dict[str, Any]:
    """Deny-overrides over the matched rules, as both baselines combine them."""
    effects = {effect for _, effect in matched}
    if "deny" in effects or "intervene-refuse" in effects:
        effect, model = "deny", None
    elif "intervene-route" in effects:
        effect, model = "allow", "opus-4.8"
    else:
        effect, model = "allow", _g(ctx, "request", "model")
    return {"effect": effect, "model": model, "matched": sorted(i for i, _ in matched)}


def baseline(gen: GenPackSet) -> Decide:
    """The plain-Python lower bound without an index: every rule's lambda, deny-overrides."""
    rules = [(r.predicate, r.effect, i) for i, r in enumerate(gen.rules)]

    def decide(ctx: Mapping[str, Any]) -> dict[str, Any]:
        return _outcome(ctx, [(i, effect) for predicate, effect, i in rules if predicate(ctx)])

    return decide


def indexed_baseline(gen: GenPackSet) -> Decide:
    """The hand-written floor: the same lambdas filed at compile time in dicts by model, use
    case, organisation and origin country (as a careful engineer would write it), so a
    request runs only its buckets and the few rules every context meets.
    """
    buckets: dict[str, dict[Any, list[_Entry]]] = {
        "model": {}, "use_case": {}, "org": {}, "country": {}}
    everywhere: list[_Entry] = []
    for i, r in enumerate(gen.rules):
        entry = (r.predicate, r.effect, i)
        if r.bucket is None:
            everywhere.append(entry)
            continue
        attribute, values = r.bucket
        for value in values:
            buckets[attribute].setdefault(value, []).append(entry)
    by_model, by_use_case = buckets["model"], buckets["use_case"]
    by_org, by_country = buckets["org"], buckets["country"]
    none: list[_Entry] = []

    def decide(ctx: Mapping[str, Any]) -> dict[str, Any]:
        request = ctx.get("request") or {}
        org = ctx.get("org") or {}
        candidates = (everywhere + by_model.get(request.get("model"), none)
                      + by_use_case.get(request.get("use_case"), none)
                      + by_org.get(org.get("id"), none)
                      + by_country.get(request.get("origin_country"), none))
        return _outcome(ctx, [(i, effect) for predicate, effect, i in candidates
                              if predicate(ctx)])

    return decide


def rule_numbers(gen: GenPackSet) -> dict[str, int]:
    """Rule id -> its position in ``gen.rules`` (ids are unique), to compare matched sets."""
    return {r.yaml["id"]: i for i, r in enumerate(gen.rules)}
