"""Run untrusted music21 work in a forked child with a CPU-time and a memory limit.

music21 can run for minutes on some hostile files and grow without bound on others.
The child's limits are set by the kernel (``RLIMIT_CPU``, ``RLIMIT_AS``), so they count
the work the child does, not the time it waits for a busy machine: a file that needs
10 s of CPU is read on a loaded laptop as on an idle one. A wall-clock limit many times
the CPU limit remains as a safety net for a child that stops without using the CPU.

Forking (rather than spawning) keeps the child cheap: it inherits the parent's
imports. The child answers through a pipe with raw bytes, never with pickle, so a
hostile file cannot smuggle objects back into the parent.
"""

from __future__ import annotations

import math
import os
import resource
import select
import signal
import struct
import time
from collections.abc import Callable

from cadenza.errors import CadenzaError, InputFileError, LimitExceededError

__all__ = ["run_isolated", "wall_seconds_for"]

_OK, _FAIL = b"K", b"F"
_MAX_REPLY_BYTES = 512 * 1024 * 1024
# The wall-clock safety net: this many times the CPU limit, and never under a minute.
_WALL_PER_CPU = 10
_MIN_WALL_S = 60.0


def wall_seconds_for(cpu_seconds: float) -> float:
    """The wall-clock safety net that goes with a CPU limit."""
    return max(_MIN_WALL_S, _WALL_PER_CPU * cpu_seconds)


def _current_address_space() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _gigabytes(count: int) -> str:
    return f"{count / 1024**3:.3g} GB"


def _child(fn: Callable[[], list[bytes]], write_fd: int, cpu_seconds: int, memory_bytes: int, action: str) -> None:
    """Runs in the child: compute, answer, and leave without running any cleanup."""
    status = 0
    try:
        # Past the soft CPU limit the kernel sends SIGXCPU (which ends the child; no
        # core file), a second later SIGKILL in case the signal is caught.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        limit = _current_address_space() + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            blobs = fn()
            reply = _OK + struct.pack("<I", len(blobs))
            reply += b"".join(struct.pack("<Q", len(b)) + b for b in blobs)
        except MemoryError:
            reply = _FAIL + f"needs more than {_gigabytes(memory_bytes)} of memory to {action}".encode()
        except RecursionError:
            reply = _FAIL + f"nests too deeply to {action}".encode()
        except CadenzaError as error:
            reply = _FAIL + error.reason.encode("utf-8", "replace")
        except Exception as error:  # a parser's own exception: the file is bad
            text = str(error).strip().splitlines()
            detail = f"{type(error).__name__}: {text[0][:300]}" if text else type(error).__name__
            verb = "parsed" if action == "parse" else "written"
            reply = _FAIL + f"cannot be {verb} ({detail})".encode("utf-8", "replace")
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
        if offset + 8 > len(reply):
            raise InputFileError("the parser stopped in the middle of its answer", path)
        (size,) = struct.unpack_from("<Q", reply, offset)
        offset += 8
        if offset + size > len(reply):
            raise InputFileError("the parser stopped in the middle of its answer", path)
        blobs.append(reply[offset : offset + size])
        offset += size
    return blobs


def run_isolated(
    fn: Callable[[], list[bytes]],
    *,
    path: str,
    cpu_seconds: float,
    memory_bytes: int,
    wall_seconds: float | None = None,
    action: str = "parse",
) -> list[bytes]:
    """Call ``fn`` in a child process and return the byte strings it returns.

    The child may use ``cpu_seconds`` of CPU time (rounded up to whole seconds, as the
    kernel counts them) and ``memory_bytes`` more address space than it starts with;
    ``wall_seconds`` (by default :func:`wall_seconds_for` the CPU limit) bounds the
    wait. ``action`` ("parse", "write MusicXML") names the work in messages.

    Raises :class:`LimitExceededError` when the child passes a limit and
    :class:`InputFileError` when it fails or dies.
    """
    cpu_limit = max(1, math.ceil(cpu_seconds))
    wall_limit = wall_seconds_for(cpu_limit) if wall_seconds is None else wall_seconds
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        _child(fn, write_fd, cpu_limit, memory_bytes, action)
    os.close(write_fd)
    chunks: list[bytes] = []
    received = 0
    deadline = time.monotonic() + wall_limit
    finished = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LimitExceededError(f"took longer than {wall_limit:g} s (wall clock) to {action}", path)
            ready, _, _ = select.select([read_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                finished = True
                break
            received += len(chunk)
            if received > _MAX_REPLY_BYTES:
                raise LimitExceededError(f"makes more than {_MAX_REPLY_BYTES >> 20} MB of music to {action}", path)
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        # A child that closed the pipe is exiting: wait for its status. Otherwise (past
        # a limit here) it is killed.
        ended = _reap(pid, deadline if finished else 0.0)
    if ended is None:
        raise LimitExceededError(f"took longer than {wall_limit:g} s (wall clock) to {action}", path)
    status, cpu_used = ended
    if os.WIFSIGNALED(status):
        signal_number = os.WTERMSIG(status)
        if signal_number == signal.SIGXCPU or (signal_number == signal.SIGKILL and cpu_used >= cpu_limit):
            raise LimitExceededError(f"needs more than {cpu_limit} s of CPU time to {action}", path)
        raise InputFileError(f"the {action} was stopped by signal {signal_number} (out of memory?)", path)
    return _decode(b"".join(chunks), path)


def _reap(pid: int, deadline: float) -> tuple[int, float] | None:
    """The child's wait status and the CPU seconds it used, waiting for it until
    ``deadline`` (a ``time.monotonic`` value); None if it had to be killed."""
    try:
        while True:
            finished, status, usage = os.wait4(pid, os.WNOHANG)
            if finished:
                return status, usage.ru_utime + usage.ru_stime
            if time.monotonic() >= deadline:
                break
            time.sleep(0.002)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): judge by the answer
        return 0, 0.0
    return None
