"""What a composer task made of a user's piece: the whole score, and which of its notes the model wrote.

The record's account of an edit (:meth:`Edit.to_dict`) lists the tracks and bars the
model wrote; :meth:`Edit.generated` is what the originality check reads. Everything
else in the score is the user's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import symusic

from cadenza.compose.cells import Cell
from cadenza.compose.sketch import Sketch

__all__ = ["Edit", "edit_of"]


@dataclass(frozen=True)
class Edit:
    """What a task made: the whole ``score``, the ``cells`` (track, bar; from 0) whose notes
    the model wrote, the tracks the task added, and its settings as plain data."""

    task: str
    score: symusic.Score
    cells: tuple[Cell, ...]
    new_tracks: tuple[int, ...] = ()
    settings: dict[str, object] = field(default_factory=dict)
    bar_ticks: float = 0.0  # score ticks per bar of the grid the cells are counted on
    grid_start: int = 0  # where that grid's bar 1 begins, in the score's ticks (before a pickup: negative)
    in_place: bool = True  # the user's tracks edited where they are (not: the music given to new parts)

    def generated_notes(self) -> int:
        return sum(len(track.notes) for track in self.generated().tracks)

    def generated(self) -> symusic.Score:
        """The score with only the notes the model wrote (for the originality check)."""
        out = self.score.copy()
        by_track: dict[int, set[int]] = {}
        for t, b in self.cells:
            by_track.setdefault(t, set()).add(b)
        for t, track in enumerate(out.tracks):
            bars = by_track.get(t, set())
            kept = (
                [n for n in track.notes if int((n.time - self.grid_start) // self.bar_ticks) in bars]
                if self.bar_ticks
                else []
            )
            track.notes.clear()
            track.notes.extend(kept)
            track.controls.clear()
            track.pedals.clear()
        return out

    def to_dict(self) -> dict[str, object]:
        """The record's account of what came from the model (the rest is the user's)."""
        per_track: dict[int, list[int]] = {}
        for t, b in self.cells:
            per_track.setdefault(t, []).append(b + 1)
        tracks = [
            {
                "track": t + 1,
                "name": self.score.tracks[t].name,
                "bars": _spans(sorted(bars)),
                "new": t in self.new_tracks,
            }
            for t, bars in sorted(per_track.items())
        ]
        return {
            "task": self.task,
            "settings": self.settings,
            "generated": tracks,
            "generated_notes": self.generated_notes(),
        }


def _spans(bars: list[int]) -> list[str]:
    """[1, 2, 3, 7] -> ["1-3", "7"]."""
    out: list[str] = []
    for bar in bars:
        if out and int(out[-1].split("-")[-1]) == bar - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{bar}"
        else:
            out.append(str(bar))
    return out


def edit_of(task: str, sketch: Sketch, score: symusic.Score, cells: Sequence[Cell], **settings: object) -> Edit:
    added = tuple(range(len(sketch.score.tracks), len(score.tracks)))
    return Edit(task, score, tuple(sorted(cells)), added, dict(settings), sketch.bar_ticks)
