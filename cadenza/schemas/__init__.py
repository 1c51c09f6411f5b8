"""The published JSON Schemas (draft 2020-12) of the cue sheets, and a validator.

``cue`` is the cue sheet a user writes for ``cadenza soundtrack`` (YAML or JSON);
``cue-sheet`` is the JSON cue sheet cadenza writes beside the audio (``DIR/cue.json``).
The files ship inside the package (``cadenza/schemas/NAME.schema.json``), so an editor
or another program can use them without cadenza; :func:`schema` reads them through
``importlib.resources``. :func:`validate` needs the ``jsonschema`` package (a
development dependency), and reports each problem as one line naming the field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from typing import Any

from cadenza.errors import InvalidArgumentError, MissingDependencyError

__all__ = ["NAMES", "schema", "validate"]

NAMES = ("cue", "cue-sheet")
MAX_LINES = 50  # a cue sheet with everything wrong would otherwise give a line per bar
MAX_DEPTH = 64  # a cue sheet nests 4 levels; jsonschema and repr() recurse, so deeper is refused first


@cache
def _text(name: str) -> str:
    if name not in NAMES:
        raise InvalidArgumentError(f"no schema {name!r}; accepted: {', '.join(NAMES)}")
    return resources.files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")


def schema(name: str) -> dict[str, Any]:
    """The schema ``name`` ('cue' or 'cue-sheet') as a new dict (the caller may change it)."""
    loaded: dict[str, Any] = json.loads(_text(name))
    return loaded


def _jsonschema() -> Any:
    try:
        import jsonschema
    except ImportError:
        raise MissingDependencyError("validating a cue sheet needs jsonschema: pip install jsonschema") from None
    return jsonschema


@cache
def _validator(name: str) -> Any:
    jsonschema = _jsonschema()
    base = jsonschema.Draft202012Validator
    # JSON Schema takes 5.0 for an integer; a sample count or a tick written as a float is a
    # bug in the writer and trips a strict reader (C#, GDScript's int()), so refuse it here.
    strict = base.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    cls = jsonschema.validators.extend(base, type_checker=strict)
    return cls(schema(name))


def validate(data: object, name: str, *, max_lines: int = MAX_LINES) -> list[str]:
    """The problems of ``data`` against the schema ``name``, one line each (``[]``: valid).

    Each line starts with where the problem is (``sections[1].bars``, or ``top level``),
    then what is wrong. Numbers that are not finite (NaN, infinity: not JSON) are reported
    too, though a schema cannot say so, and a value nesting deeper than ``MAX_DEPTH`` is
    reported alone, unchecked. At most ``max_lines`` lines, the last saying how many more
    there were. Raises MissingDependencyError when jsonschema is not installed.
    """
    _jsonschema()  # before the cache: jsonschema may have gone since
    odd = list(_odd_values(data))
    if odd and odd[-1].endswith(_TOO_DEEP):  # the walk stops there
        return odd[-1:]
    errors = _validator(name).iter_errors(data)
    lines = sorted({*odd, *(line for error in errors for line in _lines(error))}, key=_order)
    max_lines = max(max_lines, 1)
    if len(lines) > max_lines:
        more = len(lines) - (max_lines - 1)
        lines = [*lines[: max_lines - 1], f"... and {more} more problems"]
    return lines


def _order(line: str) -> list[tuple[str, int]]:
    """Lines by place, bars[2] before bars[10]."""
    return [(text, int(number or -1)) for text, number in re.findall(r"(\D*)(\d*)", line)]


def _where(path: Iterable[object]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "top level"


def _join(where: str, field: str) -> str:
    return field if where == "top level" else f"{where}.{field}"


def _lines(error: Any) -> list[str]:
    """The lines for a jsonschema error: the field, then the reason in plain words."""
    where = _where(error.absolute_path)
    kind, rule, value = error.validator, error.validator_value, error.instance
    if kind in ("anyOf", "oneOf") and error.context:
        fitting = _fitting_branch(error.context)
        if fitting:
            return [line for sub in fitting for line in _lines(sub)]
        return [f"{where}: {_short(value)} does not fit: {error.schema.get('description', 'no form matches')}"]
    if kind == "required":
        return [f"{_join(where, field)}: missing (required)" for field in rule if field not in value]
    if kind == "additionalProperties" and rule is False:
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(str(field) for field in value if field not in allowed)
        return [f"{_join(where, field)}: unknown field (accepted: {', '.join(allowed)})" for field in extra]
    if kind == "enum":
        reason = f"{_short(value)} is not one of {', '.join(repr(v) for v in rule)}"
    elif kind == "const":
        reason = f"{_short(value)} should be {rule!r}"
    elif kind == "not":
        reason = f"not allowed: {rule.get('description', 'this form')}"
    elif kind == "maxContains":
        reason = f"at most {rule} {error.schema['contains'].get('description', 'such item')}"
    elif kind == "type":
        reason = f"{_short(value)} is not of type {' or '.join([rule] if isinstance(rule, str) else rule)}"
    else:  # jsonschema's own words, which open with the value: shortened
        full = repr(value)
        reason = _short(value) + error.message[len(full) :] if error.message.startswith(full) else error.message
    return [f"{where}: {reason}"]


def _fitting_branch(context: Iterable[Any]) -> list[Any]:
    """The errors of the first alternative of an anyOf whose type fits the value (a list
    of numbers has its numbers checked; a word, its words), or [] when no type fits."""
    branches: dict[int, list[Any]] = {}
    for sub in context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    for _, subs in sorted(branches.items()):
        if not any(sub.validator == "type" and not sub.relative_path for sub in subs):
            return subs
    return []


def _short(value: object) -> str:
    """``repr(value)``, cut to a line's worth."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_TOO_DEEP = f"nests more than {MAX_DEPTH} levels of lists and objects"


def _odd_values(data: object) -> Iterator[str]:
    """Lines for the NaN and infinite numbers in ``data``, and for where it nests too
    deep (a walk without recursion, which goes no deeper than that)."""
    stack: list[tuple[list[object], object]] = [([], data)]
    while stack:
        path, value = stack.pop()
        if len(path) > MAX_DEPTH:
            yield f"{_where(path[:1])}: {_TOO_DEEP}"
            return
        if isinstance(value, float) and not math.isfinite(value):
            yield f"{_where(path)}: {value!r} is not a finite number"
        elif isinstance(value, dict):
            stack.extend(([*path, key], item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend(([*path, index], item) for index, item in enumerate(value))
