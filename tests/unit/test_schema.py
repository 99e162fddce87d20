"""Context schemas: type strings, and pydantic models standing in for `context:`."""

from __future__ import annotations

import enum
import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Optional, Union

import pytest
from pydantic import BaseModel, Field

from compliance.cel.types import (
    DYN,
    TypeSyntaxError,
    parse_type,
    schema_from_pydantic,
)


class Principal(BaseModel):
    id: str
    kind: Literal["customer", "employee", "service", "government"]
    nationalities: list[str] | None = None
    nationality_verified: bool = False
    permanent_residence: list[str] = []
    country: str | None = None
    authorizations: list[str] = []


class Org(BaseModel):
    id: str
    plan: Literal["free", "pro", "team", "enterprise", "government"]
    zdr: bool = False
    legal_hold: bool = False
    controlling_country: Optional[str] = None  # noqa: UP045 - the old spelling is supported too


class Request(BaseModel):
    id: str
    time: datetime
    origin_country: str
    origin_region: str | None = None
    model: str
    use_case: str
    risk_scores: dict[str, float] = {}
    surface: Literal["api", "chat", "agent"]


class Context(BaseModel):
    """The canonical context (docs/context.md) as a pydantic model."""

    principal: Principal
    org: Org
    request: Request


class TestParseType:
    @pytest.mark.parametrize(
        "text", ["int", "list<string>", "map<string, double>", "list<map<string, list<int>>>"]
    )
    def test_round_trip(self, text: str) -> None:
        """Type strings parse and print back the same."""
        assert str(parse_type(text)) == text

    def test_bad_map_key(self) -> None:
        """Map keys are restricted to CEL's key types."""
        with pytest.raises(TypeSyntaxError, match="map keys"):
            parse_type("map<double, int>")


class TestFromPydantic:
    def test_section_6_context(self) -> None:
        """The canonical context maps field by field to the schema the manifest declares."""
        schema = schema_from_pydantic(Context)
        expected = {
            "principal.kind": "string",
            "principal.nationalities": "list<string>",
            "principal.nationality_verified": "bool",
            "org.controlling_country": "string",
            "request.time": "timestamp",
            "request.risk_scores": "map<string, double>",
            "request.surface": "string",
        }
        for path, spelled in expected.items():
            found = schema.lookup(path)
            assert found is not None, path
            assert str(found) == spelled, path
        assert set(schema.variables) == {"principal", "org", "request"}

    def test_literals_become_enums(self) -> None:
        """`Literal[...]` of strings keeps its values as the enum."""
        schema = schema_from_pydantic(Context)
        kind = schema.lookup("principal.kind")
        assert kind is not None
        assert kind.enum == ("customer", "employee", "service", "government")

    def test_other_types(self) -> None:
        """Durations, bytes, `Any`, str enums, tuples and aliases map as documented."""

        class Level(enum.StrEnum):
            LOW = "low"
            HIGH = "high"

        class Model(BaseModel):
            wait: timedelta
            blob: bytes
            extra: Any
            level: Level
            tags: tuple[str, ...]
            count: int = Field(alias="n")

        schema = schema_from_pydantic(Model)
        spelled = {name: str(t) for name, t in schema.variables.items()}
        assert spelled == {"wait": "duration", "blob": "bytes", "extra": "dyn",
                           "level": "string", "tags": "list<string>", "n": "int"}
        assert schema.variables["extra"] == DYN
        assert schema.variables["level"].enum == ("low", "high")

    @pytest.mark.parametrize(
        ("annotation", "fragment"),
        [
            (Decimal, "field `x`: unsupported annotation `Decimal`"),
            (Union[int, str], "field `x`: union"),  # noqa: UP007 - a real Union is the point
            (dict[float, int], "field `x`: map keys"),
            (tuple[int, str], "field `x`: only `tuple[X, ...]`"),
        ],
        ids=["decimal", "union", "float-keys", "fixed-tuple"],
    )
    def test_unsupported_annotation_names_the_field(self, annotation: Any, fragment: str) -> None:
        """An annotation with no CEL type raises TypeError naming the field."""
        model = type("M", (BaseModel,), {"__annotations__": {"x": annotation}})
        with pytest.raises(TypeError, match=re.escape(fragment)):
            schema_from_pydantic(model)

    def test_nested_path_in_error(self) -> None:
        """Errors in nested models name the full path."""

        class Inner(BaseModel):
            amount: Decimal

        class Outer(BaseModel):
            inner: Inner

        with pytest.raises(TypeError, match=re.escape("field `inner.amount`")):
            schema_from_pydantic(Outer)
