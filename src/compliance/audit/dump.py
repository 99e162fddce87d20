"""A decision as its log record holds it: ``model_dump`` data by definition, bytes fast.

``plain_decision`` is the definition: ``Decision.model_dump(mode="json")`` without
``context_digest``, sensitive strings scrubbed from reasons and intervention messages.
``decision_bytes`` gives ``canonical(plain_decision(...))`` without pydantic's general
serializer, most of a record's cost: orjson writes the decision's fields and calls back
only for nested models (their fields, exactly those ``model_dump`` writes) and times
(pydantic's own spelling). When it cannot vouch for a value (a type only pydantic knows
how to write, data orjson refuses) it returns None and the writer takes the plain path.
``tests/audit/test_dump_equivalence.py`` holds the two to the same bytes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import orjson
from pydantic import BaseModel, PlainSerializer, WrapSerializer
from pydantic_core import to_jsonable_python

from compliance.decision import (
    Conflict,
    Decision,
    Match,
    ObligationDetail,
    Obligations,
    RoutingPass,
)

__all__ = ["EXCLUDE", "Cleaner", "cleaner", "decision_bytes", "plain_decision"]

EXCLUDE = frozenset({"context_digest"})  # the record keeps the keyed digest instead
Cleaner = Callable[[str], str]
_SCALARS = frozenset({str, int, float, bool, type(None)})
_SERIALIZERS = (PlainSerializer, WrapSerializer)
_TIMES = (datetime, date, time, timedelta)  # json mode spells these whatever the field type
# Model settings that change how pydantic writes a value: a class using one is not ours to write.
_SERIALIZING = frozenset({
    "ser_json_timedelta", "ser_json_temporal", "ser_json_bytes", "ser_json_inf_nan",
    "val_json_bytes", "json_encoders", "serialize_by_alias", "use_enum_values",
})


def cleaner(secrets: tuple[str, ...]) -> Cleaner | None:
    """The function replacing each clear sensitive value in a text by ``[redacted]``."""
    return _cleaner(secrets) if secrets else None


@functools.lru_cache(maxsize=1024)  # the same principal and org come back request after request
def _cleaner(secrets: tuple[str, ...]) -> Cleaner:
    ordered = sorted(set(secrets), key=len, reverse=True)  # a longer secret may hold a shorter

    def clean(text: str) -> str:
        for secret in ordered:
            text = text.replace(secret, "[redacted]")
        return text

    return clean


def plain_decision(decision: Decision, secrets: tuple[str, ...]) -> dict[str, Any]:
    """The decision's record data (the definition ``decision_bytes`` must match)."""
    dumped = decision.model_dump(mode="json", exclude=set(EXCLUDE))
    clean = cleaner(secrets)
    if clean is not None:
        dumped["reasons"] = [clean(r) for r in dumped.get("reasons", [])]
        for item in dumped.get("interventions", []):
            if isinstance(item.get("message"), str):
                item["message"] = clean(item["message"])
    return dumped


class _Shape:
    """What of one model class the record holds: its written fields, and those it skips."""

    __slots__ = ("all", "dropped", "names", "scalar")

    def __init__(self, cls: type[BaseModel], exclude: frozenset[str]) -> None:
        fields = cls.model_fields
        self.all = frozenset(fields)
        self.dropped = tuple(n for n, f in fields.items() if f.exclude or n in exclude)
        self.names = tuple(n for n in fields if n not in self.dropped)
        # frozen, and declared to hold scalars only: its instances cannot change
        self.scalar = bool(cls.model_config.get("frozen")) and all(
            _scalar_type(f.annotation) for f in fields.values())


def _scalar_type(annotation: object) -> bool:
    """Whether a field type admits only immutable scalars (str, int, float, bool, None)."""
    if annotation in _SCALARS:
        return True
    origin = get_origin(annotation)
    if origin is Literal:
        return all(type(arg) in _SCALARS for arg in get_args(annotation))
    if origin in (Union, UnionType):
        return all(_scalar_type(arg) for arg in get_args(annotation))
    return False


_shapes: dict[type, _Shape | None] = {}  # nested models, by exact class
_tops: dict[type, _Shape | None] = {}  # decisions: without ``EXCLUDE``


def _shape(cls: type, exclude: frozenset[str] = frozenset()) -> _Shape | None:
    """The shape of a model class whose ``model_dump`` is its fields as they are, else None."""
    cache = _tops if exclude else _shapes
    if cls in cache:
        return cache[cls]
    shape = None
    if issubclass(cls, BaseModel):
        decorators = cls.__pydantic_decorators__
        plain = (
            set(cls.model_computed_fields) <= exclude
            and not decorators.field_serializers and not decorators.model_serializers
            and not _SERIALIZING & cls.model_config.keys()
            and cls.model_config.get("extra") != "allow"
            and all(f.serialization_alias is None and f.alias is None
                    and getattr(f, "exclude_if", None) is None
                    and not any(isinstance(m, _SERIALIZERS) for m in f.metadata)
                    for f in cls.model_fields.values())
        )
        shape = _Shape(cls, exclude) if plain else None
    cache[cls] = shape
    return shape


def _fields(model: BaseModel, shape: _Shape) -> dict[str, Any]:
    """A model's written fields (its ``__dict__`` itself when that holds exactly them)."""
    held = model.__dict__
    if held.keys() == shape.all:
        if not shape.dropped:
            return held
        out = dict(held)
        for name in shape.dropped:
            del out[name]
        return out
    return {name: getattr(model, name) for name in shape.names}


def _default(value: Any) -> Any:
    """orjson's call back for what it does not write itself (raises ``TypeError``: plain path)."""
    known = _written.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    cls = type(value)
    shape = _shapes[cls] if cls in _shapes else _shape(cls)
    if shape is not None:
        fields = _fields(value, shape)
        if shape.scalar and all(type(v) in _SCALARS for v in fields.values()):
            return _remember(value, fields)
        if cls in _SHARED:
            return _remember(value, fields)
        return fields
    if isinstance(value, _TIMES):
        return to_jsonable_python(value)
    raise TypeError(cls.__name__)


# A frozen model holding only scalars cannot change, so its bytes are written once: the
# shared records of a pack set (``PackInfo``, ``Match``, ``RuleRef``) are in every decision;
# so are the other shared records (``_SHARED``), read-only by contract.
# Entries hold the model itself, so no other object can take its id while it is cached.
_WRITTEN_MAX = 4096
_written: dict[int, tuple[BaseModel, orjson.Fragment]] = {}


_packs_written: dict[tuple[int, ...], tuple[list[Any], orjson.Fragment]] = {}


def _packs(packs: list[Any]) -> Any:
    """The bytes of a decision's ``packs``, written once per pack set (its models are scalar)."""
    ids = tuple(map(id, packs))
    known = _packs_written.get(ids)
    if known is not None:
        return known[1]  # the entry holds the models: no other object can have these ids
    fragment = orjson.Fragment(orjson.dumps(packs, default=_default, option=_OPTIONS))
    if all(_written.get(id(p), (None,))[0] is p for p in packs):
        if len(_packs_written) >= _WRITTEN_MAX:
            _packs_written.clear()
        _packs_written[ids] = (list(packs), fragment)
    return fragment


# The records a pack set's decisions share (docs/decision.md: frozen, and the lists and dicts
# inside them read-only): the same object comes back decision after decision, so its bytes,
# nested records included, are written once too.
_SHARED = frozenset({Match, RoutingPass, Obligations, ObligationDetail, Conflict})


def _remember(model: BaseModel, fields: dict[str, Any]) -> orjson.Fragment:
    fragment = orjson.Fragment(orjson.dumps(fields, default=_default, option=_OPTIONS))
    if len(_written) >= _WRITTEN_MAX:
        _written.clear()
    _written[id(model)] = (model, fragment)
    return fragment


_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def decision_bytes(decision: Decision, clean: Cleaner | None) -> bytes | None:
    """``canonical(plain_decision(decision, secrets))`` (``clean = cleaner(secrets)``), or None."""
    shape = _shape(type(decision), EXCLUDE)
    if shape is None:
        return None
    try:
        data = _fields(decision, shape)
        if data is decision.__dict__:
            data = dict(data)
        data["packs"] = _packs(data["packs"])
        if clean is not None:
            data["reasons"] = [clean(r) for r in data["reasons"]]
            data["interventions"] = [_cleaned(item, clean) for item in data["interventions"]]
        out = orjson.dumps(data, default=_default, option=_OPTIONS)
    except (TypeError, AttributeError, KeyError):  # orjson.JSONEncodeError is a TypeError
        return None
    return out


def _cleaned(item: Any, clean: Cleaner) -> Any:
    """An intervention with its message scrubbed (a dict of its fields when that changes it)."""
    message = item.message
    if not isinstance(message, str) or clean(message) == message:
        return item
    shape = _shape(type(item))
    if shape is None:
        raise TypeError(type(item).__name__)
    fields = dict(_fields(item, shape))
    fields["message"] = clean(message)
    return fields
