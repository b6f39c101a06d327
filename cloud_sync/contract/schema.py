"""A small validation engine: TOML tables checked against dataclass fields and their metadata.

A section is a frozen dataclass whose fields carry `meta(doc, rule)`. The field's type
says what TOML type is accepted (str, int, float, bool, Path, a StrEnum, a nested
section, or `tuple[Section, ...]` for an array of tables); the optional Rule checks and
converts the value. Every failure is a ConfigError that names the file, the dotted key
path and the expected form.
"""

from __future__ import annotations

import functools
import math
import string
import types
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, fields, is_dataclass
from datetime import date, datetime, time
from enum import Enum
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    TypeGuard,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from cloud_sync.contract.ids import plain_text
from cloud_sync.contract.place import Place

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")

_TYPE_FORMS: Mapping[type, str] = types.MappingProxyType(
    {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        Path: "a file path (a non-empty string)",
    }
)
_AS_WRITTEN = (str, int, bool)  # TOML gives these as the very values a field holds


@dataclass(frozen=True, slots=True)
class Rule:
    """What form a value must take; apply returns the final value or raises ValueError."""

    form: str
    apply: Callable[[Any], Any]
    takes: type | None = None  # the TOML type, when it differs from the field's type


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A field's documentation and rule, kept in dataclass field metadata."""

    doc: str
    rule: Rule | None = None
    secret: bool = False


def meta(doc: str, rule: Rule | None = None, *, secret: bool = False) -> Mapping[str, FieldSpec]:
    """Field metadata for a config field; secret values are never echoed in errors."""
    return {"config": FieldSpec(doc, rule, secret)}


def spec_of(item: Field[Any]) -> FieldSpec:
    """The FieldSpec of a dataclass field (an empty one if it has none)."""
    found = item.metadata.get("config")
    return found if isinstance(found, FieldSpec) else FieldSpec("")


def above(limit: float, what: str = "a number") -> Rule:
    """Rule: a number strictly greater than limit."""

    def apply(value: float) -> float:
        if not value > limit:
            raise ValueError(value)
        return value

    return Rule(f"{what} greater than {limit:g}", apply)


def at_least(limit: float, what: str = "a number") -> Rule:
    """Rule: a number greater than or equal to limit."""

    def apply(value: float) -> float:
        if not value >= limit:
            raise ValueError(value)
        return value

    return Rule(f"{what} of at least {limit:g}", apply)


def one_of(*choices: str) -> Rule:
    """Rule: exactly one of the given strings."""

    def apply(value: str) -> str:
        if value not in choices:
            raise ValueError(value)
        return value

    return Rule(f"one of {', '.join(choices)}", apply)


def between(low: int, high: int, what: str = "an integer") -> Rule:
    """Rule: a number from low to high."""

    def apply(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(value)
        return value

    return Rule(f"{what} from {low} to {high}", apply)


def _non_blank(value: str) -> str:
    if not value.strip() or not plain_text(value):
        raise ValueError(value)
    return value.strip()


TEXT = Rule("a non-empty string without control characters", _non_blank)


def build(cls: type[T], value: object, place: Place, base_dir: Path) -> T:
    """Check one TOML table against section cls and return the section."""
    table = _table(value, place)
    layout = _layout_of(cls)
    if not layout.known.issuperset(table):
        key = next(key for key in table if key not in layout.known)
        raise place.key(key).error(_unknown(key, list(layout.names)))
    values: dict[str, Any] = {}
    for slot in layout.slots:  # in the section's order: the first fault named is the first field's
        if slot.name not in table:
            if slot.required:
                raise place.key(slot.name).error(_missing(slot.hint, slot.spec))
            continue
        value = table[slot.name]
        if slot.as_written and type(value) is slot.takes:
            # the common case, read without marking its place: a place is made only for a
            # value the rule refuses (read again below, for the message)
            try:
                values[slot.name] = value if slot.spec.rule is None else slot.spec.rule.apply(value)
                continue
            except ValueError:
                pass
        values[slot.name] = _convert(slot, value, place.key(slot.name), base_dir)
    return cls(**values)


def read_value(
    kind: type, value: object, place: Place, rule: Rule | None = None, *, secret: bool = False
) -> Any:
    """Check one scalar TOML value: its type, then the rule; return the converted value."""
    takes = rule.takes if rule and rule.takes else kind
    if type(value) is takes and takes in _AS_WRITTEN:
        scalar: Any = value  # a string, integer or boolean where one is asked for
    else:
        scalar = _scalar(takes, value, place, FieldSpec("", rule, secret))
    if rule is None:
        return scalar
    try:
        return rule.apply(scalar)
    except ValueError as error:
        detail = str(error)
        why = f" ({detail})" if detail and not secret and detail != str(scalar) else ""
        raise place.error(
            f"expected {rule.form}, got {_shown(scalar, secret, typed=False, form=rule.form)}"
            f"{why}") from None


@dataclass(frozen=True, slots=True)
class _Slot:
    """One field of a section as build reads it: its name, type, rule and shape (a
    scalar, a nested table, an array of tables or an array of values, and of what)."""

    name: str
    hint: Any  # the annotation as written, for the message of a missing value
    kind: Any  # the annotation without None
    spec: FieldSpec
    required: bool
    shape: str
    inner: Any  # the nested section, or the type of an array's items
    takes: Any  # the TOML type of a scalar (its rule's, or the field's)
    as_written: bool  # a scalar whose TOML value is the very value the field holds


@dataclass(frozen=True, slots=True)
class _Layout:
    """A section's fields in order, and the set of their names."""

    names: tuple[str, ...]
    known: frozenset[str]
    slots: tuple[_Slot, ...]


@functools.cache
def _layout_of(cls: type) -> _Layout:
    """Section cls's fields, types and rules, worked out once per class: resolving the
    annotations (get_type_hints) costs far more than checking a table."""
    hints = get_type_hints(cls)
    slots = []
    for item in fields(cls):
        kind = _without_none(hints[item.name])
        shape, inner = _shape_of(kind)
        required = item.default is MISSING and item.default_factory is MISSING
        spec = spec_of(item)
        takes = spec.rule.takes if spec.rule and spec.rule.takes else kind
        slots.append(_Slot(item.name, hints[item.name], kind, spec, required, shape, inner,
                           takes, shape == "scalar" and takes in _AS_WRITTEN
                           and kind is not Path))
    names = tuple(slot.name for slot in slots)
    return _Layout(names, frozenset(names), tuple(slots))


def _shape_of(kind: Any) -> tuple[str, Any]:
    if isinstance(kind, type) and is_dataclass(kind):
        return "table", kind
    if get_origin(kind) is tuple:
        item_kind = get_args(kind)[0]
        if isinstance(item_kind, type) and is_dataclass(item_kind):
            return "tables", item_kind
        return "values", item_kind
    return "scalar", kind


def _convert(slot: _Slot, value: object, place: Place, base_dir: Path) -> Any:
    if slot.shape == "table":
        return build(slot.inner, value, place, base_dir)
    if slot.shape == "tables":
        items = _array_of_tables(value, place)
        return tuple(build(slot.inner, item, place.index(i), base_dir) for i, item in enumerate(items))
    if slot.shape == "values":
        return _array_of_values(slot.inner, slot.spec, value, place)
    converted = read_value(slot.kind, value, place, slot.spec.rule, secret=slot.spec.secret)
    return base_dir / converted if slot.kind is Path else converted


def _scalar(kind: type, value: object, place: Place, spec: FieldSpec) -> Any:
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value):
            return float(value)
    elif _is_enum(kind):
        if isinstance(value, str) and value in _values_of(kind):
            return kind(value)
    elif kind is Path:
        if isinstance(value, str) and value.strip():
            return Path(value)
    elif isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    typed = not (isinstance(value, str) and (kind is Path or _is_enum(kind)))
    form = _form(kind, spec)
    raise place.error(f"expected {form}, got {_shown(value, spec.secret, typed=typed, form=form)}")


@functools.cache
def _values_of(kind: type[Enum]) -> frozenset[object]:
    """The values an enum's members are written as, gathered once per enum."""
    return frozenset(member.value for member in kind)


def _is_enum(kind: object) -> TypeGuard[type[Enum]]:
    return isinstance(kind, type) and issubclass(kind, Enum)


def _table(value: object, place: Place) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise place.error(f"expected a table, got {_shown(value, False)}")
    return value


def _array_of_tables(value: object, place: Place) -> list[Any]:
    name = place.path.rsplit(".", 1)[-1]
    if not isinstance(value, list):
        raise place.error(
            f"expected an array of tables (write each entry as [[{name}]]), got {_shown(value, False)}"
        )
    return value


def _array_of_values(kind: type, spec: FieldSpec, value: object, place: Place) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise place.error(f"expected an array like [1, 2], got {_shown(value, False)}")
    return tuple(
        read_value(kind, item, place.index(i), spec.rule, secret=spec.secret)
        for i, item in enumerate(value)
    )


def _without_none(hint: Any) -> Any:
    if get_origin(hint) in (Union, types.UnionType):
        kinds = [arg for arg in get_args(hint) if arg is not type(None)]
        return kinds[0] if len(kinds) == 1 else hint
    return hint


def _form(kind: Any, spec: FieldSpec) -> str:
    if spec.rule is not None:
        return spec.rule.form
    if _is_enum(kind):
        return "one of " + ", ".join(str(member.value) for member in kind)
    if is_dataclass(kind):
        return "a table"
    if get_origin(kind) is tuple:
        item = get_args(kind)[0]
        return "an array of tables" if is_dataclass(item) else f"an array of {_form(item, FieldSpec(''))}"
    return _TYPE_FORMS.get(kind, getattr(kind, "__name__", str(kind)))


def _missing(hint: Any, spec: FieldSpec) -> str:
    about = f" ({spec.doc})" if spec.doc else ""
    return f"missing required value{about}; expected {_form(_without_none(hint), spec)}"


def _unknown(key: str, known: list[str]) -> str:
    import difflib  # only a misspelt key needs it (about 0.15 MB)

    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown key{hint}; expected one of {', '.join(known)}"


def _shown(value: object, secret: bool, *, typed: bool = True, form: str = "") -> str:
    """Describe a value for an error; with typed, say its TOML type as well. A secret is
    described by its length and, where hex is expected, where it is not hex."""
    kind = _toml_kind(value)
    if secret:
        return f"{_secret_shape(value, form) or kind} (value not shown: it may be a secret)"
    if isinstance(value, dict | list):
        return kind
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, date | time):
        text = value.isoformat()
    else:
        text = repr(value)
    return f"{kind} ({text})" if typed else text


def _secret_shape(value: object, form: str) -> str:
    """'32 characters, 2 of them not hex digits (0-9, a-f), the first at position 1':
    what is wrong with a secret, without showing it."""
    if not isinstance(value, str):
        return ""
    shape = f"{len(value)} character{'' if len(value) == 1 else 's'}"
    wrong = [i for i, char in enumerate(value) if char not in string.hexdigits]
    if "hex" in form and len(wrong) == 1:
        shape += f", one of them not a hex digit (0-9, a-f): the one at position {wrong[0] + 1}"
    elif "hex" in form and wrong:
        shape += (f", {len(wrong)} of them not hex digits (0-9, a-f), the first at "
                  f"position {wrong[0] + 1}")
    return shape


def _toml_kind(value: object) -> str:
    for kind, name in (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a number"),
        (str, "a string"),
        (dict, "a table"),
        (list, "an array"),
        (datetime, "a date-time"),
        (date, "a date"),
        (time, "a time"),
    ):
        if isinstance(value, kind):
            return name
    return type(value).__name__
