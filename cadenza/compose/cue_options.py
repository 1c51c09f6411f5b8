"""What ``cadenza generate``'s options (or the service's generate request) say as a cue
sheet: a prompt read by :mod:`cadenza.compose.prompt`, overridden by the options given.

Shared by the command line and ``cadenza serve``, so both compose the same cue for the
same request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cadenza.errors import InvalidArgumentError

if TYPE_CHECKING:
    from cadenza.compose.prompt import PromptReading

__all__ = ["MOOD_JOIN", "cue_from_options", "uses_cue"]

MOOD_JOIN = "-to-"


def uses_cue(prompt: str | None, mood: str | None, loop: bool, stems: bool, dry_run: bool) -> bool:
    """Whether ``cadenza generate`` composes a cue (a soundtrack) instead of a plain piece."""
    return prompt is not None or loop or stems or dry_run or (mood is not None and MOOD_JOIN in mood)


def _mood_sections(mood: str) -> list[dict[str, Any]]:
    """``calm-to-tense``: two sections, the first in the first mood, the second in the other."""
    from cadenza.compose.conditions import choice
    from cadenza.data.labels import MOODS

    parts = mood.split(MOOD_JOIN)
    if len(parts) != 2 or not all(parts):
        raise InvalidArgumentError(f"--mood {mood[:60]!r}: give one mood, or two as FROM-to-TO (calm-to-tense)")
    for part in parts:
        choice(part, MOODS, "mood")
    if parts[0] == parts[1]:
        raise InvalidArgumentError(f"--mood {mood[:60]!r}: the two moods are the same; give one mood")
    return [{"name": parts[0], "mood": parts[0]}, {"name": parts[1], "mood": parts[1]}]


def cue_from_options(reading: PromptReading | None, options: dict[str, Any]) -> dict[str, Any]:
    """The cue sheet that a prompt and ``cadenza generate``'s options describe: an option
    given says more than the prompt (``--tempo 90`` wins over "140 bpm")."""
    if options.get("bars") is not None and options.get("seconds") is not None:
        raise InvalidArgumentError("give either --bars or --seconds, not both")
    data: dict[str, Any] = reading.cue_dict() if reading is not None else {}
    for name in ("style", "key", "tempo", "meter", "seconds"):
        if options.get(name) is not None:
            data[name] = options[name]
    mood = options.get("mood")
    if mood is not None and MOOD_JOIN in mood:
        sections = _mood_sections(mood)
        if options.get("bars") is not None:
            if options["bars"] < 2:
                raise InvalidArgumentError(f"--bars {options['bars']}: a mood that changes needs 2 bars or more")
            half = options["bars"] // 2
            sections[0]["bars"], sections[1]["bars"] = half, max(1, options["bars"] - half)
            data.pop("seconds", None)
        else:
            sections[0]["seconds"] = float(data.get("seconds", 60.0)) / 2
            data["seconds"] = float(data.get("seconds", 60.0))
        sections[0]["intensity"] = "steady"
        data["sections"] = sections
        for name in ("mood", "valence", "arousal"):
            data.pop(name, None)
    elif mood is not None:
        data["mood"] = mood
        data.pop("valence", None)
        data.pop("arousal", None)
    if options.get("bars") is not None and not (mood and MOOD_JOIN in mood):
        if len(data.get("sections", [])) > 1:
            raise InvalidArgumentError("--bars cannot share out a prompt's sections; give --seconds instead")
        name = data["sections"][0]["name"] if data.get("sections") else "main"
        data["sections"] = [{"name": name, "bars": options["bars"]}]
        data.pop("seconds", None)
    if options.get("instruments"):
        data["instruments"] = [i.strip().lower() for i in options["instruments"].split(",") if i.strip()]
    if options.get("loop"):
        data["loop"] = True
    if options.get("stems"):
        data["stems"] = True
    return data
