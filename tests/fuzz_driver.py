"""Load many files in one process and report each outcome as a JSON line.

Run as a child of the test so that a crash (a segfault in a parser) or a hang shows
up as the child's exit status or time-out instead of taking pytest down with it.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback

from cadenza.errors import CadenzaError
from cadenza.io import load_scores
from cadenza.io.summary import summarize

MEMORY_CAP_BYTES = 8 * 1024**3


def main(paths: list[str]) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, resource.RLIM_INFINITY))
    for path in paths:
        started = time.monotonic()
        try:
            for score in load_scores(path):
                summarize(score)
            outcome, message = "ok", ""
        except CadenzaError as error:
            outcome, message = "error", str(error)
        except BaseException:
            outcome, message = "bug", traceback.format_exc()
        seconds = time.monotonic() - started
        print(json.dumps({"path": path, "outcome": outcome, "message": message, "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
