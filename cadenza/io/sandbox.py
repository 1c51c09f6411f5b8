"""Run an untrusted parse in a forked child with a time and a memory limit.

music21 can run for minutes on some hostile files and grow without bound on others.
Forking (rather than spawning) keeps the child cheap: it inherits the parent's
imports. The child answers through a pipe with raw bytes, never with pickle, so a
hostile file cannot smuggle objects back into the parent.
"""

from __future__ import annotations

import os
import resource
import select
import signal
import struct
import time
from collections.abc import Callable

from cadenza.errors import CadenzaError, InputFileError, LimitExceededError

__all__ = ["run_isolated"]

_OK, _FAIL = b"K", b"F"
_MAX_REPLY_BYTES = 512 * 1024 * 1024


def _current_address_space() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _child(fn: Callable[[], list[bytes]], write_fd: int, memory_bytes: int) -> None:
    """Runs in the child: compute, answer, and leave without running any cleanup."""
    status = 0
    try:
        limit = _current_address_space() + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            blobs = fn()
            reply = _OK + struct.pack("<I", len(blobs))
            reply += b"".join(struct.pack("<Q", len(b)) + b for b in blobs)
        except MemoryError:
            reply = _FAIL + b"needs more memory than allowed while parsing"
        except RecursionError:
            reply = _FAIL + b"nests too deeply to parse"
        except CadenzaError as error:
            reply = _FAIL + error.reason.encode("utf-8", "replace")
        except Exception as error:  # a parser's own exception: the file is bad
            text = str(error).strip().splitlines()
            detail = f"{type(error).__name__}: {text[0][:300]}" if text else type(error).__name__
            reply = _FAIL + f"cannot be parsed ({detail})".encode("utf-8", "replace")
        view = memoryview(reply)
        while view:
            written = os.write(write_fd, view)
            view = view[written:]
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _decode(reply: bytes, path: str) -> list[bytes]:
    if reply[:1] == _FAIL:
        raise InputFileError(reply[1:].decode("utf-8", "replace"), path)
    if reply[:1] != _OK or len(reply) < 5:
        raise InputFileError("the parser stopped without an answer", path)
    (count,) = struct.unpack_from("<I", reply, 1)
    offset, blobs = 5, []
    for _ in range(count):
        (size,) = struct.unpack_from("<Q", reply, offset)
        offset += 8
        blobs.append(reply[offset : offset + size])
        offset += size
    return blobs


def run_isolated(
    fn: Callable[[], list[bytes]],
    *,
    path: str,
    timeout_s: float,
    memory_bytes: int,
) -> list[bytes]:
    """Call ``fn`` in a child process and return the byte strings it returns.

    Raises :class:`LimitExceededError` when the child runs past ``timeout_s`` and
    :class:`InputFileError` when it fails, runs out of memory or dies.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        _child(fn, write_fd, memory_bytes)
    os.close(write_fd)
    chunks: list[bytes] = []
    received = 0
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LimitExceededError(f"took longer than {timeout_s:g} s to parse", path)
            ready, _, _ = select.select([read_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            received += len(chunk)
            if received > _MAX_REPLY_BYTES:
                raise LimitExceededError("parses to more music than allowed", path)
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        _reap(pid)
    return _decode(b"".join(chunks), path)


def _reap(pid: int) -> None:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    except ChildProcessError:
        pass
