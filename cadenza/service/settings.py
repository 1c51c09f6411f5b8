"""What ``cadenza serve`` is configured with (its command-line flags), checked once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cadenza.errors import InputFileError, InvalidArgumentError

__all__ = ["Settings", "read_api_keys", "MAX_KEY_FILE_BYTES"]

MAX_KEY_FILE_BYTES = 1024 * 1024
MAX_WORKERS = 64
MAX_QUEUE = 10_000


@dataclass(frozen=True)
class Settings:
    """``data_dir`` None: a fresh temporary folder, removed when the server stops.
    ``rate``: POSTs a minute per client (0: no limit). ``api_keys`` empty: open to all."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    queue_limit: int = 20
    keep_seconds: float = 3600.0
    data_dir: Path | None = None
    max_upload_bytes: int = 2 * 1024 * 1024
    rate: int = 60
    api_keys: frozenset[str] = field(default_factory=frozenset)
    job_seconds: float = 900.0  # a job running longer is stopped (its worker replaced) and fails

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InvalidArgumentError(f"--port {self.port} is outside 0..65535")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise InvalidArgumentError(f"--workers {self.workers} is outside 1..{MAX_WORKERS}")
        if not 0 <= self.queue_limit <= MAX_QUEUE:
            raise InvalidArgumentError(f"--queue-limit {self.queue_limit} is outside 0..{MAX_QUEUE}")
        if not 0 < self.keep_seconds <= 30 * 24 * 3600:  # also refuses nan
            raise InvalidArgumentError(f"keep {self.keep_seconds:g} s is outside 0..30 days")
        if not 0 < self.job_seconds <= 24 * 3600:
            raise InvalidArgumentError(f"a job's limit of {self.job_seconds:g} s is outside 0..24 hours")
        if self.max_upload_bytes < 1:
            raise InvalidArgumentError("the upload limit must be at least 1 byte")
        if self.rate < 0:
            raise InvalidArgumentError(f"rate {self.rate} is below 0")
        if self.data_dir is not None:
            folder = Path(self.data_dir)
            if folder.exists() and not folder.is_dir():
                raise InvalidArgumentError("is not a folder", folder)
            object.__setattr__(self, "data_dir", folder)
        object.__setattr__(self, "api_keys", frozenset(self.api_keys))
        if any(not key or any(c.isspace() for c in key) for key in self.api_keys):
            raise InvalidArgumentError("an API key is empty or holds a space")


def read_api_keys(path: str | os.PathLike[str]) -> frozenset[str]:
    """One key a line; blank lines and lines starting with # are skipped."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_KEY_FILE_BYTES:
            raise InputFileError(f"is larger than {MAX_KEY_FILE_BYTES} bytes; not a key file", file)
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise InputFileError(f"cannot be read ({error.strerror or error})", file) from None
    except UnicodeDecodeError:
        raise InputFileError("is not UTF-8 text", file) from None
    keys = frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    if not keys:
        raise InputFileError("holds no API key (one a line)", file)
    if any(any(c.isspace() for c in key) for key in keys):
        raise InputFileError("has a key with a space inside (one key a line)", file)
    return keys
