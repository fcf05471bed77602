"""Wire machinery for the protocol module: documented fields, JSON in/out, JSON Schema.

Payload classes are attrs classes whose fields are declared with :func:`field` (a docstring per
field). Python names are snake_case; wire names are the app-server's camelCase. We do not use
lsprotocol's converter for our payloads because it drops fields equal to their default (pygls
notes G4): here ``None`` is always sent as ``null``.

Parsing (:func:`from_wire`) validates as it goes and raises :class:`ParamsError` with the path of
the bad field (``params.input[0].text: expected a string``), which the server maps to -32602.
"""

from __future__ import annotations

import enum
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import attrs

T = TypeVar("T")

JsonValue = Any
"""Any JSON value (used for free-form fields such as config overrides)."""

_DOC = "codex_doc"
_WIRE = "codex_wire"
_OMIT_NONE = "codex_omit_none"


class ParamsError(ValueError):
    """A payload does not match its declared shape; the message names the field."""


def field(
    doc: str,
    *,
    default: Any = attrs.NOTHING,
    wire: str | None = None,
    secret: bool = False,
    omit_none: bool = False,
) -> Any:
    """Declare a payload field with its documentation (and optional explicit wire name).

    ``secret=True`` hides the value from ``repr`` so tokens never reach a log line.
    ``omit_none=True`` leaves the key out of the wire object when the value is None (for
    optional fields we add beyond upstream's shapes).
    """
    metadata = {_DOC: doc, _WIRE: wire, _OMIT_NONE: omit_none}
    return attrs.field(default=default, metadata=metadata, repr=not secret)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_name(f: attrs.Attribute) -> str:
    return f.metadata.get(_WIRE) or camel(f.name)


def field_doc(f: attrs.Attribute) -> str:
    return str(f.metadata.get(_DOC, ""))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=False)


@functools.cache
def _wire_fields(cls: type) -> tuple[tuple[str, str, bool], ...]:
    """(python name, wire name, omit when None) of each field, worked out once per class."""
    return tuple(
        (f.name, wire_name(f), bool(f.metadata.get(_OMIT_NONE))) for f in attrs.fields(cls)
    )


def payload_classes(roots: typing.Iterable[Any]) -> list[type]:
    """Every payload (attrs) class reachable from the types ``roots`` through field types."""
    seen: dict[type, None] = {}
    pending = list(roots)
    while pending:
        tp = pending.pop()
        pending.extend(get_args(tp))
        if isinstance(tp, type) and attrs.has(tp) and tp not in seen:
            seen[tp] = None
            pending.extend(_hints(tp).values())
    return list(seen)


def prepare(roots: typing.Iterable[Any]) -> int:
    """Resolve the type hints and wire names of every payload class reachable from ``roots``
    now (start-up, off the loop) rather than in the first request that uses each. Returns how
    many classes were prepared."""
    classes = payload_classes(roots)
    for cls in classes:
        _wire_fields(cls)
    return len(classes)


# --------------------------------------------------------------------------------------------
# Python -> JSON


_SCALARS = (str, int, float, bool, type(None))


def to_wire(value: Any) -> Any:
    """Convert a payload (attrs instance, list, dict, enum, scalar) to plain JSON."""
    kind = type(value)
    # Plain JSON first: large results (rebuilt turns) are mostly dicts, lists and scalars.
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {str(k): to_wire(v) for k, v in value.items()}
    if kind is list:
        return [to_wire(v) for v in value]
    if attrs.has(kind):
        wire = {}
        for name, key, omit_none in _wire_fields(kind):
            item = getattr(value, name)
            if not (omit_none and item is None):
                wire[key] = to_wire(item)
        return wire
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_wire(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------------------------
# JSON -> Python


def from_wire(cls: type[T], data: Any, path: str = "params") -> T:
    """Parse ``data`` into ``cls``; raise :class:`ParamsError` naming the bad field."""
    return typing.cast(T, _parse(cls, data, path))


def _type_name(tp: Any) -> str:
    if tp is str:
        return "a string"
    if tp is bool:
        return "a boolean"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if attrs.has(tp) or tp is dict:
        return "an object"
    if get_origin(tp) is list:
        return "an array"
    return "a valid value"


def _parse(tp: Any, data: Any, path: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return data
    if origin in (Union, types.UnionType):
        return _parse_union(tp, data, path)
    if origin is Literal:
        allowed = get_args(tp)
        if data not in allowed or isinstance(data, bool) != isinstance(allowed[0], bool):
            choices = ", ".join(repr(a) for a in allowed)
            raise ParamsError(f"{path}: must be one of {choices}, got {_short(data)}")
        return data
    if origin is list:
        if not isinstance(data, list):
            raise ParamsError(f"{path}: expected an array")
        (item_tp,) = get_args(tp) or (Any,)
        return [_parse(item_tp, item, f"{path}[{i}]") for i, item in enumerate(data)]
    if origin is dict or tp is dict:
        if not isinstance(data, dict):
            raise ParamsError(f"{path}: expected an object")
        args = get_args(tp)
        if args and args[1] is not Any:
            return {k: _parse(args[1], v, f"{path}.{k}") for k, v in data.items()}
        return data
    if tp is type(None):
        if data is not None:
            raise ParamsError(f"{path}: expected null")
        return None
    if tp is bool:
        if not isinstance(data, bool):
            raise ParamsError(f"{path}: expected a boolean")
        return data
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            if isinstance(data, float) and data.is_integer():
                return int(data)
            raise ParamsError(f"{path}: expected an integer")
        return data
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise ParamsError(f"{path}: expected a number")
        return float(data)
    if tp is str:
        if not isinstance(data, str):
            raise ParamsError(f"{path}: expected a string")
        return data
    if attrs.has(tp):
        return _parse_attrs(tp, data, path)
    raise TypeError(f"unsupported wire type {tp!r} at {path}")


def _parse_attrs(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected an object")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in attrs.fields(cls):
        key = wire_name(f)
        sub = f"{path}.{key}"
        if key not in data:
            if f.default is attrs.NOTHING:
                raise ParamsError(f"{sub}: required field is missing")
            continue
        value = data[key]
        if value is None and f.default is None:
            continue  # explicit null for an optional field
        kwargs[f.name] = _parse(hints[f.name], value, sub)
    return cls(**kwargs)


def _tag_of(cls: type) -> Any:
    """The single literal value of a tagged class's ``type`` field, if it has one."""
    if not attrs.has(cls):
        return None
    tp = _hints(cls).get("type")
    if tp is not None and get_origin(tp) is Literal and len(get_args(tp)) == 1:
        return get_args(tp)[0]
    return None


def _parse_union(tp: Any, data: Any, path: str) -> Any:
    members = [m for m in get_args(tp) if m is not type(None)]
    if data is None:
        if len(members) < len(get_args(tp)):
            return None
        raise ParamsError(f"{path}: must not be null")
    tagged = {t: m for m in members if (t := _tag_of(m)) is not None}
    if tagged and len(tagged) == len(members):
        if not isinstance(data, dict):
            raise ParamsError(f"{path}: expected an object")
        tag = data.get("type")
        if tag not in tagged:
            choices = ", ".join(repr(t) for t in tagged)
            raise ParamsError(f"{path}.type: must be one of {choices}, got {_short(tag)}")
        return _parse(tagged[tag], data, path)
    errors = []
    for member in members:
        try:
            return _parse(member, data, path)
        except ParamsError as exc:
            errors.append(str(exc))
    if len(members) == 1:
        raise ParamsError(errors[0])
    expected = " or ".join(_type_name(m) for m in members)
    raise ParamsError(f"{path}: expected {expected}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --------------------------------------------------------------------------------------------
# JSON Schema


def json_schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) for a wire type; attrs classes go into ``defs`` by name."""
    origin = get_origin(tp)
    if tp is Any:
        return {}
    if origin in (Union, types.UnionType):
        return {"anyOf": [json_schema(m, defs) for m in get_args(tp)]}
    if origin is Literal:
        return {"enum": list(get_args(tp))}
    if origin is list:
        (item_tp,) = get_args(tp) or (Any,)
        return {"type": "array", "items": json_schema(item_tp, defs)}
    if origin is dict or tp is dict:
        args = get_args(tp)
        schema: dict[str, Any] = {"type": "object"}
        if args and args[1] is not Any:
            schema["additionalProperties"] = json_schema(args[1], defs)
        return schema
    if tp is type(None):
        return {"type": "null"}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if tp in simple:
        return {"type": simple[tp]}
    if attrs.has(tp):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            hints = _hints(tp)
            props = {}
            required = []
            for f in attrs.fields(tp):
                prop = json_schema(hints[f.name], defs)
                prop["description"] = field_doc(f)
                props[wire_name(f)] = prop
                if f.default is attrs.NOTHING:
                    required.append(wire_name(f))
            defs[name] = {
                "type": "object",
                "description": (tp.__doc__ or "").strip(),
                "properties": props,
                "required": required,
            }
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"unsupported wire type {tp!r}")
