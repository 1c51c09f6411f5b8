"""Which work function runs a job of each kind: ``WORK[kind](params, folder, progress)``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cadenza.service import work, work_sketch

__all__ = ["CHECK", "WORK", "WorkFn", "CheckFn"]

WorkFn = Callable[[dict[str, Any], Path, Callable[[int, int], None]], dict[str, Any]]
CheckFn = Callable[[dict[str, Any]], None]

WORK: dict[str, WorkFn] = {**work.WORK, **work_sketch.WORK}
CHECK: dict[str, CheckFn] = {**work.CHECK, **work_sketch.CHECK}
