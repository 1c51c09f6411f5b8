"""The cadenza error hierarchy.

Every error a user can cause is a :class:`CadenzaError` whose ``str()`` is one line
naming the file (when there is one) and what is wrong; the CLI prints that line and
exits with code 2.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "CadenzaError",
    "InputFileError",
    "UnsupportedFormatError",
    "LimitExceededError",
    "OutputExistsError",
    "MissingDependencyError",
    "InvalidArgumentError",
]


class CadenzaError(Exception):
    """Base class: a reason, and the file it concerns when there is one."""

    def __init__(self, reason: str, path: str | PathLike[str] | None = None) -> None:
        self.reason = reason
        self.path = None if path is None else str(path)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class InputFileError(CadenzaError):
    """An input file that cannot be read: missing, empty, corrupt or hostile."""


class UnsupportedFormatError(InputFileError):
    """A file extension cadenza does not read or write."""


class LimitExceededError(InputFileError):
    """A file whose content passes a safety limit (size, duration, notes, tracks)."""


class OutputExistsError(CadenzaError):
    """An output path that exists already and may not be overwritten."""


class MissingDependencyError(CadenzaError):
    """An optional tool (a synthesizer, a SoundFont) that is not installed."""


class InvalidArgumentError(CadenzaError):
    """A command-line or API argument outside what is accepted."""
