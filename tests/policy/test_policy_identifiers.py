"""Identifier variants of the founding cases: read as the canonical spelling, or fail closed.

``rules/packset.yaml`` trims and lower-cases model ids and use-case labels, trims and
upper-cases country codes and checks them against ISO 3166 patterns, and treats an empty
constrained identifier as absent. Every variant below is decided like the canonical value,
or is an error on its path (so it fails closed), never allowed past a deny.
"""

from __future__ import annotations

import pytest
from policy_helpers import (
    BIO_CHEM,
    EXPORT,
    RULES,
    SANCTIONS,
    foreign,
    make_context,
    matched,
)

from compliance import Engine


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(RULES)


class TestModelIds:
    @pytest.mark.parametrize("model", ["fable-5", "Fable-5", " fable-5", "fable-5\n", "FABLE-5",
                                       "Mythos-5", " mythos-5 "])
    def test_variants_are_suspended_for_a_french_national(self, engine: Engine,
                                                          model: str) -> None:
        """A French national after the directive is denied on every spelling of fable-5."""
        decision = engine.evaluate(foreign("FR", request__model=model))
        assert decision.effect == "deny"
        assert EXPORT in matched(decision)
        assert not decision.errors

    def test_empty_model_is_absent(self, engine: Engine) -> None:
        """An empty model id is unknown, not a clean other model: the suspension fails closed."""
        decision = engine.evaluate(foreign("FR", request__model=""))
        assert decision.effect == "deny"
        assert "request.model" in decision.missing


class TestCountryCodes:
    @pytest.mark.parametrize("origin", ["IR", "ir", " IR", "Ir\t"])
    def test_iran_variants_are_denied(self, engine: Engine, origin: str) -> None:
        """`ir` and ` IR` are Iran, as `IR` is."""
        decision = engine.evaluate(make_context({"request.origin_country": origin}))
        assert decision.effect == "deny"
        assert SANCTIONS in matched(decision)

    @pytest.mark.parametrize("origin", ["IRN", "I", "1R", "\u0406R"])  # a Cyrillic `I`
    def test_malformed_code_is_an_error_on_its_path(self, engine: Engine, origin: str) -> None:
        """A code that is not ISO 3166-1 alpha-2 is an error naming the path: fail closed."""
        decision = engine.evaluate(make_context({"request.origin_country": origin}))
        assert decision.effect == "deny"
        assert decision.errors
        assert all(e.code == "bad-context" for e in decision.errors)
        assert all("`request.origin_country` must match" in e.message for e in decision.errors)
        decision.model_dump_json()

    def test_empty_origin_is_unknown(self, engine: Engine) -> None:
        """`""` is no clean origin: it is absent, and the sanctions rule fails closed."""
        decision = engine.evaluate(make_context({"request.origin_country": ""}))
        assert decision.effect == "deny"
        assert "request.origin_country" in decision.missing

    def test_nationality_elements_are_normalised(self, engine: Engine) -> None:
        """` fr` in the nationalities list reads as `FR`: suspended like `FR`."""
        decision = engine.evaluate(foreign("FR", principal__nationalities=[" fr"]))
        assert decision.effect == "deny"
        assert EXPORT in matched(decision)

    @pytest.mark.parametrize("nationalities", [[1, "US"], ["US", ""], ["US", "USA"], ["US", None]])
    def test_malformed_nationality_fails_closed(self, engine: Engine,
                                                nationalities: list[object]) -> None:
        """A wrong element is an error on `principal.nationalities[i]`, never a US person."""
        context = make_context({"principal.nationalities": nationalities})
        decision = engine.evaluate(context)
        assert decision.effect == "deny"
        bad = next(i for i, n in enumerate(nationalities) if n != "US")
        assert any(f"`principal.nationalities[{bad}]`" in e.message for e in decision.errors)

    def test_malformed_authorization_fails_closed(self, engine: Engine) -> None:
        """`authorizations: ["BIS-LICENSE-FABLE", 7]` does not keep a foreign national's access."""
        context = foreign("FR", principal__authorizations=["BIS-LICENSE-FABLE", 7])
        decision = engine.evaluate(context)
        assert decision.effect == "deny"
        assert any("`principal.authorizations[1]` must be a string" in e.message
                   for e in decision.errors)


class TestUseCases:
    @pytest.mark.parametrize("use_case", ["Bio", " BIO", "bio\n"])
    def test_bio_variants_are_refused(self, engine: Engine, use_case: str) -> None:
        """`Bio` is `bio`: the bio/chem refusal applies."""
        context = make_context({"request.use_case": use_case, "request.model": "haiku-4.5",
                                "request.risk_scores": {"bio": 0.99}})
        decision = engine.evaluate(context)
        assert decision.effect == "deny"
        assert BIO_CHEM in matched(decision)

    def test_surveillance_variant_like_canonical(self, engine: Engine) -> None:
        """`Surveillance` is decided exactly as `surveillance`."""
        def outcome(label: str) -> tuple[object, ...]:
            d = engine.evaluate(make_context({"request.use_case": label,
                                              "request.model": "haiku-4.5"}))
            return d.effect, sorted(matched(d)), d.missing
        assert outcome("Surveillance") == outcome("surveillance")
        assert outcome("Surveillance")[0] == "deny"


class TestScores:
    @pytest.mark.parametrize("score", [float("nan"), float("inf"), "0.9", True,
                                       pytest.param(10**400, id="401-digits")])
    def test_malformed_bio_score_fails_closed(self, engine: Engine, score: object) -> None:
        """NaN, infinity, a string, a bool or a 401-digit integer never skips the bio refusal."""
        context = make_context({"request.use_case": "bio", "request.model": "haiku-4.5",
                                "request.risk_scores": {"bio": score}})
        decision = engine.evaluate(context)
        assert decision.effect == "deny"
        assert any('`request.risk_scores["bio"]`' in e.message for e in decision.errors)
        decision.model_dump_json()


class TestRequestTime:
    def test_malformed_offset_is_not_read_as_another_time(self, engine: Engine) -> None:
        """`+01:90` is no offset: a French national's fable-5 request errors, never allowed."""
        context = foreign("FR", request__time="2026-06-12T22:50:00+01:90")
        decision = engine.evaluate(context)
        assert decision.effect == "deny"
        assert any(e.code == "bad-context" and "request.time" in e.message
                   for e in decision.errors)

    @pytest.mark.parametrize("text", ["2026-06-12T12:10.00Z", "\uff12026-06-15T10:30:00Z",
                                      "2026-06-15T10:30:00+24:00", "2026-06-15T10:30:60Z"])
    def test_near_misses_are_errors(self, engine: Engine, text: str) -> None:
        """Near-miss timestamps are errors on `request.time`, never a time."""
        decision = engine.evaluate(foreign("FR", request__time=text))
        assert decision.effect == "deny"
        assert decision.errors
