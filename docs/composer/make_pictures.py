"""Remake the pictures of docs/composer/: a piano roll of a before and an after per command.

    python docs/composer/make_pictures.py [--pop909 ../shared/datasets/pop909]

Run from anywhere, with cadenza installed (the `cadenza` program on the PATH). Each
picture comes from the commands printed as they run, the very commands its page shows:
the composer command on a real file, then `cadenza render IN -o before.png` and
`cadenza render OUT -o after.png`; the two rolls are stacked, labelled, and the bars
the command was asked to write are lightly shaded. The files are written in a temporary
folder (signing keys included: CADENZA_HOME points there), the pictures to
docs/composer/images/.

`--melody` rewrites cadenza/examples/melody.mid: the soprano of the shipped chorale, the
file's first track chunk copied byte for byte under a one-track header.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import symusic
from PIL import Image, ImageDraw, ImageFont

from cadenza.compose.sketch import Sketch
from cadenza.io.pianoroll import GUTTER, RIGHT_PAD

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
IMAGES = HERE / "images"
EXAMPLES = "cadenza/examples/"
CHORALE = ROOT / EXAMPLES / "bwv66.6.mid"
MELODY = ROOT / EXAMPLES / "melody.mid"
POP909 = ROOT.parent / "shared" / "datasets" / "pop909"
POP909_BARS = 24  # of 2/4, as song 001 states its meter: the lead-in, then the tune's first phrases

LABEL_HEIGHT = 16
SHADE = 0.14  # how far a shaded column is moved towards white
BACKGROUND = (18, 20, 26)
TEXT = (200, 204, 214)


@dataclass(frozen=True)
class Picture:
    name: str  # images/NAME.png
    command: str  # as the page shows it, run from the checkout's root
    shade: tuple[int, int] | None = None  # bars (from 1) the command was asked to write

    @property
    def source(self) -> str:
        return shlex.split(self.command)[2]

    @property
    def output(self) -> str:
        words = shlex.split(self.command)
        return words[words.index("-o") + 1]


PICTURES = (
    Picture("continue", "cadenza continue cadenza/examples/bwv66.6.mid --bars 4 -o longer.mid", (10, 13)),
    Picture(
        "infill", "cadenza infill cadenza/examples/bwv66.6.mid --bars 3-4 --tracks Alto,Tenor -o filled.mid", (3, 4)
    ),
    Picture("harmonize", "cadenza harmonize cadenza/examples/melody.mid -o chorale.mid"),
    Picture("accompany", "cadenza accompany pop909-001-melody.mid --instruments piano,bass -o accompanied.mid"),
    Picture("vary", "cadenza vary cadenza/examples/bwv66.6.mid --amount 0.5 -o varied.mid"),
    Picture(
        "arrange", "cadenza arrange cadenza/examples/bwv66.6.mid --instruments violin,violin,viola,cello -o quartet.mid"
    ),
)


def first_track(midi: bytes) -> bytes:
    """A MIDI file of the first track chunk of ``midi`` alone, that chunk's bytes unchanged."""
    if midi[:4] != b"MThd":
        raise ValueError("not a MIDI file")
    length = struct.unpack(">I", midi[4:8])[0]
    division = midi[12:14]
    start = 8 + length
    if midi[start : start + 4] != b"MTrk":
        raise ValueError("no track chunk after the header")
    end = start + 8 + struct.unpack(">I", midi[start + 4 : start + 8])[0]
    return b"MThd" + struct.pack(">IHH", 6, 1, 1) + division + midi[start:end]


def pop909_melody(song: Path, target: Path, bars: int = POP909_BARS) -> None:
    """The MELODY track of a POP909 song, its first ``bars`` bars (lead-in included), with
    the song's tempo and meter."""
    score = symusic.Score(song)
    end = Sketch.of(score).bar_start(bars)
    melody = next(t for t in score.tracks if t.name == "MELODY")
    melody.notes = melody.notes.filter(lambda n: n.time < end)
    for note in melody.notes:
        note.duration = min(note.duration, end - note.time)
    score.tracks.clear()
    score.tracks.append(melody)
    score.dump_midi(target)


def run(command: str, folder: Path) -> None:
    """Run a cadenza command as written, its ``cadenza/examples/`` paths taken from this checkout."""
    print(f"$ {command}", flush=True)
    words = [str(ROOT / w) if w.startswith(EXAMPLES) else w for w in shlex.split(command)]
    program = shutil.which(words[0])
    if program is None:
        raise SystemExit(f"{words[0]} is not on the PATH: install cadenza first")
    subprocess.run([program, *words[1:]], cwd=folder, check=True, env={**os.environ, "CADENZA_HOME": str(folder)})


def _shade(image: Image.Image, midi: Path, bars: tuple[int, int]) -> None:
    """Lighten the columns of ``bars`` in a piano roll of ``midi`` (cadenza.io.pianoroll's scale)."""
    score = symusic.Score(midi)
    sketch = Sketch.of(score)
    px_per_tick = (image.width - GUTTER - RIGHT_PAD) / max(int(score.end()), 1)
    left = GUTTER + int(sketch.bar_start(bars[0] - 1) * px_per_tick)
    right = GUTTER + int(sketch.bar_start(bars[1]) * px_per_tick)
    pixels = np.asarray(image, dtype=np.float64)
    pixels[:, left:right] += (255 - pixels[:, left:right]) * SHADE
    image.paste(Image.fromarray(pixels.round().astype(np.uint8)))


def _labelled(image: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (image.width, image.height + LABEL_HEIGHT), BACKGROUND)
    ImageDraw.Draw(out).text((4, 3), text, fill=TEXT, font=ImageFont.load_default(size=11))
    out.paste(image, (0, LABEL_HEIGHT))
    return out


def make(picture: Picture, folder: Path) -> Path:
    """Run the picture's command, render the input and the output, stack them."""
    run(picture.command, folder)
    run(f"cadenza render {picture.source} -o {picture.name}-before.png", folder)
    run(f"cadenza render {picture.output} -o {picture.name}-after.png", folder)
    before = Image.open(folder / f"{picture.name}-before.png").convert("RGB")
    after = Image.open(folder / f"{picture.name}-after.png").convert("RGB")
    if picture.shade is not None:
        _shade(after, folder / picture.output, picture.shade)
    words = shlex.split(picture.command)
    asked = " ".join(words[3 : words.index("-o")])
    before = _labelled(before, f"before: {Path(picture.source).name}")
    after = _labelled(after, f"after: cadenza {picture.name} {asked}".rstrip())
    both = Image.new("RGB", (max(before.width, after.width), before.height + after.height), BACKGROUND)
    both.paste(before, (0, 0))
    both.paste(after, (0, before.height))
    target = IMAGES / f"{picture.name}.png"
    both.save(target, format="PNG", optimize=True)
    print(f"wrote {target.relative_to(ROOT)} ({target.stat().st_size // 1024} KB)", flush=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pop909", type=Path, default=POP909, help="the POP909 folder (song 001 is used)")
    parser.add_argument("--only", nargs="*", help="these pictures only (continue, infill, ...)")
    parser.add_argument("--melody", action="store_true", help="rewrite cadenza/examples/melody.mid first")
    args = parser.parse_args()
    if args.melody:
        MELODY.write_bytes(first_track(CHORALE.read_bytes()))
        print(f"wrote {MELODY.relative_to(ROOT)}")
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cadenza-pictures-") as scratch:
        folder = Path(scratch)
        for picture in PICTURES:
            if args.only and picture.name not in args.only:
                continue
            if picture.name == "accompany":
                song = args.pop909 / "001" / "001.mid"
                print(f"# the MELODY track of {song}, its first {POP909_BARS} bars: pop909-001-melody.mid")
                pop909_melody(song, folder / "pop909-001-melody.mid")
            make(picture, folder)


if __name__ == "__main__":
    main()
