"""Reading the fields of a hand-written document (a plan, a cue sheet): each reader checks
one value's type and names where it sits (``plan.sections[2].bars``) when it is wrong."""

from __future__ import annotations

import math
from typing import Any

from cadenza.errors import InvalidArgumentError

__all__ = ["object_of", "list_of", "string_of", "number_of", "optional"]


def object_of(data: object, where: str, accepted: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"{where}: expected an object, got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in accepted)
    if unknown:
        raise InvalidArgumentError(
            f"{where}: unknown field {unknown[0][:60]!r}; accepted: {', '.join(sorted(accepted))}"
        )
    return data


def list_of(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidArgumentError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def string_of(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{where}: expected a string, got {type(value).__name__}")
    return value


def number_of(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(f"{where}: expected a finite number, got {str(value)[:60]!r}")
    try:
        number = float(value)  # an integer too large for a float raises OverflowError
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        shown = "an integer of more than 300 digits" if isinstance(value, int) else repr(value)
        raise InvalidArgumentError(f"{where}: expected a finite number, got {shown}")
    return number


def optional(value: object, where: str, read: Any) -> Any:
    return None if value is None else read(value, where)
