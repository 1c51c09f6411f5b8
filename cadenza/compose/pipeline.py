"""The one pipeline every interface calls: compose, check originality, repair, record, sign.

    piece = compose_piece(Composer.from_pretrained(), Conditions(mood="calm", seconds=30), Sampling(seed=1))
    piece.write("calm.mid")  # the music, and calm.mid.provenance.json signed beside it

The command line (``cadenza generate``) and any other interface call this, so that a
piece made from Python is checked and signed exactly as one made from the shell.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import symusic

from cadenza.compose.composer import DEFAULT_SAMPLING, Composer, Progress
from cadenza.compose.conditions import Conditions, Resolved
from cadenza.compose.cue import Cue
from cadenza.compose.delivery import Targets, deliver
from cadenza.compose.original import generate_original
from cadenza.compose.plan import Plan
from cadenza.compose.rerank import Judge, choose
from cadenza.compose.soundtrack import Soundtrack, compose_cue
from cadenza.models.sampling import Sampling
from cadenza.provenance.outputs import write_with_record
from cadenza.provenance.record import NO_INDEX, provenance_record, with_originality
from cadenza.provenance.report import Level, OriginalityReport
from cadenza.provenance.signing import SigningKey, default_key, sign_record

__all__ = ["Piece", "CuePiece", "compose_piece", "compose_soundtrack", "PLAN_NOT_FOLLOWED"]

PLAN_NOT_FOLLOWED = (
    "this model follows a plan's first section (key, tempo, meter, mood) and its bars in all, "
    "not its sections, chords or repeats; --model cadenza-multitrack follows them"
)


@dataclass(frozen=True)
class Piece:
    """A composed piece with everything said about it."""

    score: symusic.Score
    resolved: Resolved
    sampling: Sampling
    report: OriginalityReport | None  # None: the model has no originality index
    record: dict[str, object]  # the provenance record, signed with ``key``
    key: SigningKey = field(repr=False)
    warnings: tuple[str, ...] = ()  # what a user should be told (an unchecked piece)
    seconds: float | None = None  # the length asked for: audio lasts exactly this (to the sample)

    def write(self, target: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write the music to ``target`` (format by extension) and its signed record
        beside it; returns the record's path. A file that is not MIDI gets its bytes'
        sha256 added to the record before signing."""
        return write_with_record(self.score, self.record, target, self.key, force=force, seconds=self.seconds)


def compose_piece(
    composer: Composer,
    conditions: Conditions,
    sampling: Sampling = DEFAULT_SAMPLING,
    level: Level | str = Level.NORMAL,
    key: SigningKey | None = None,
    progress: Progress | None = None,
    plan: Plan | None = None,
    judge: Judge | None = None,
) -> Piece:
    """A new piece for ``conditions``, checked against the model's training set (copied
    passages composed again, see :func:`~cadenza.compose.original.generate_original`),
    with its provenance record signed by ``key`` (the ``default`` key when ``None``,
    made on first use). The same seed and conditions give the same music; ``progress``
    is told ``(bars done, bars)`` while the piece is composed.

    With ``plan``, ``conditions`` are :meth:`Plan.conditions` and the record holds the plan
    too; a model whose composer does not follow plans (``follows_plans``) follows only
    its first section and its bars, and the piece's warnings say so.

    With ``judge``, ``judge.candidates`` pieces are composed (seeds from
    :meth:`Judge.seeds`) and the one its critic finds most real is kept; the record says
    which, with every candidate's score."""
    level = Level.parse(level)
    signing_key = default_key() if key is None else key
    conditions = conditions if plan is None else plan.conditions()
    resolved = composer.resolve(conditions)
    said = resolved.to_dict() if plan is None else {**resolved.to_dict(), "plan": plan.to_dict()}
    if judge is None:
        score, report = generate_original(composer, conditions, sampling, level, progress, plan)
    else:
        drawn = [
            generate_original(
                composer, conditions, replace(sampling, seed=seed), level, progress if k == 0 else None, plan
            )
            for k, seed in enumerate(judge.seeds(sampling.seed))
        ]
        best, realness = choose(judge.critic, [candidate for candidate, _ in drawn])
        score, report = drawn[best]
        said["rerank"] = {
            "critic": judge.name,
            "critic_weights_sha256": judge.weights_sha256,
            "seeds": judge.seeds(sampling.seed),
            "realness": realness,
            "chosen": best,
        }
    record = provenance_record(score, composer.info, said, sampling)
    signed = sign_record(with_originality(record, report), signing_key)
    unchecked = f"{composer.info.name}: {NO_INDEX}; the piece was not checked for copies"
    warnings: tuple[str, ...] = () if report is not None else (unchecked,)
    if plan is not None and not composer.follows_plans:
        warnings += (f"{composer.info.name}: {PLAN_NOT_FOLLOWED}",)
    seconds = resolved.seconds if plan is None else plan.seconds
    return Piece(score, resolved, sampling, report, signed, signing_key, warnings, seconds)


@dataclass(frozen=True)
class CuePiece:
    """A composed cue with its record (signed once per file it is written to)."""

    soundtrack: Soundtrack
    sampling: Sampling
    report: OriginalityReport | None
    record: dict[str, object]
    key: SigningKey = field(repr=False)
    warnings: tuple[str, ...] = ()

    def write(self, targets: Targets, *, force: bool = False) -> list[Path]:
        """Write every file of ``targets``, each with its signed record beside it."""
        return deliver(self.soundtrack, self.record, self.key, targets, force=force)


def compose_soundtrack(
    composer: Composer,
    cue: Cue,
    sampling: Sampling = DEFAULT_SAMPLING,
    level: Level | str = Level.NORMAL,
    key: SigningKey | None = None,
    progress: Progress | None = None,
    asked: Mapping[str, object] | None = None,
) -> CuePiece:
    """The cue composed by a multitrack ``composer`` (see :mod:`cadenza.compose.soundtrack`),
    what its model wrote checked for copies of training pieces, and its record: the cue
    as resolved, the plan its layers followed, the model, the seed and the originality
    report; ``asked``: what the user said (a prompt, a cue sheet as written), recorded too."""
    signing_key = default_key() if key is None else key
    soundtrack = compose_cue(composer, cue, sampling, level, progress)  # type: ignore[arg-type]
    said = {"cue": asdict(cue), "plan": soundtrack.plan.to_dict()}
    if asked is not None:
        said["asked"] = dict(asked)
    record = with_originality(provenance_record(soundtrack.score, composer.info, said, sampling), soundtrack.report)
    unchecked = f"{composer.info.name}: {NO_INDEX}; the piece was not checked for copies"
    warnings = () if soundtrack.report is not None or composer.originality_index is not None else (unchecked,)
    return CuePiece(soundtrack, sampling, soundtrack.report, record, signing_key, warnings)
