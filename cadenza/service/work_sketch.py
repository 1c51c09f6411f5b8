"""The work functions of the composer tasks (continue, infill, harmonize, accompany,
vary, arrange) and of analyze, originality and verify: owned by h-files.

Add each as ``WORK["continue"] = continue_`` (the signature is
:data:`cadenza.service.kinds.WorkFn`); :mod:`cadenza.service.kinds` merges this dict.
``CHECK`` (optional, same keys): a function run in the server before queueing, raising
a CadenzaError for a request that can be refused at once (a 400).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

WORK: dict[str, Callable[[dict[str, Any], Path, Callable[[int, int], None]], dict[str, Any]]] = {}
CHECK: dict[str, Callable[[dict[str, Any]], None]] = {}
