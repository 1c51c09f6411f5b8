"""How the command line writes: two consoles, text from files made safe, a progress bar.

* :data:`console` (stdout) and :data:`error_console` (stderr) wrap to the terminal when
  they write to one; output that is piped or captured is never wrapped or cut, so that
  scripts and ``grep`` see whole lines and whole names.
* :func:`shown` is how any text that comes from a file or a path is put into a line
  that rich will print: its square brackets are not read as markup (``[/bold]`` in a
  track name would crash rich) and control characters are printed as ``\\x1b`` escapes
  instead of reaching the terminal.
* :func:`progress` is a transient progress bar on stderr, drawn only on a terminal.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator

from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

__all__ = ["UNWRAPPED_WIDTH", "console", "error_console", "print_json", "progress", "shown"]

UNWRAPPED_WIDTH = 10_000  # columns of piped output: wider than any line cadenza prints

# C0 and C1 controls (ESC, BEL, CR, ...), DEL, the Unicode line and paragraph separators
# and the bidirectional overrides that reorder what a terminal shows
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class _Console(Console):
    """A rich Console that is as wide as the terminal, or unbounded when not on one."""

    @property
    def size(self) -> ConsoleDimensions:
        dimensions = super().size
        if self.is_terminal:
            return dimensions
        return ConsoleDimensions(UNWRAPPED_WIDTH, dimensions.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


console: Console = _Console()
error_console: Console = _Console(stderr=True)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: object) -> str:
    """``text`` ready for a rich markup string: brackets escaped, control characters as ``\\xNN``."""
    return escape(_UNSAFE.sub(_escaped, str(text)))


def print_json(data: object) -> None:
    """``data`` as indented JSON on stdout, as it is: no colours, no markup, and no pass
    through rich's renderer, which took minutes and gigabytes on a large analysis."""
    console.file.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    console.file.flush()


def _ignore(done: int, total: int) -> None:
    pass


@contextlib.contextmanager
def progress(description: str, *, on: Console | None = None) -> Iterator[Callable[[int, int], None]]:
    """Yield ``update(done, total)`` that moves a bar labelled ``description``.

    The bar is drawn on ``on`` (stderr by default) only when that is a terminal, and
    it disappears when the block ends; elsewhere ``update`` does nothing, so the
    callback can be handed to library code unconditionally.
    """
    out = error_console if on is None else on
    if not out.is_terminal:
        yield _ignore
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=out, transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
