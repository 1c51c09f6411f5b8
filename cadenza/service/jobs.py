"""The job engine of ``cadenza serve``: a store of jobs, a FIFO queue of bounded length,
and a fixed pool of worker PROCESSES that run them.

The server has threads (uvicorn's loop, FastAPI's thread pool), so its workers are
started with the ``spawn`` context, never forked. Each worker slot is a thread here
that hands one job at a time to its process over a pipe and relays what the process
says back (progress, the summary, a failure). Cancelling a running job terminates its
process; the slot starts a fresh one. A job that ends is kept ``keep_seconds``, then
its folder is deleted and its id is forgotten (404); sooner, oldest first, when the
results kept would pass :data:`KEEP_BYTES` (clients cannot fill the disk).

Each job has its own folder ``data_dir/jobs/<id>/`` with ``input/`` (what the route
saved before queueing) and ``out/`` (what the work function wrote). A file is served
only if its name is in the job's own list, made from ``out/`` when the job ends and
filtered to :data:`RESULT_NAMES`: nothing a client sends reaches outside the folder.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import re
import secrets
import shutil
import signal
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from cadenza.errors import CadenzaError, InvalidArgumentError
from cadenza.service.settings import Settings

__all__ = [
    "FINAL",
    "Engine",
    "Job",
    "QueueFullError",
    "RESULT_NAMES",
    "media_type",
    "result_name",
]

log = logging.getLogger("cadenza.service")

FINAL = frozenset({"done", "failed", "cancelled"})
INTERNAL = "internal error"
RESULT_NAMES = frozenset(
    {
        "music.mid",
        "music.musicxml",
        "music.wav",
        "pianoroll.png",
        "record.json",
        "originality.json",
        "cue-sheet.json",
        "before.mid",
        "before.png",
        "analysis.json",
        "verify.json",
    }
)
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{24}")
_STEM = re.compile(r"stem-[a-z0-9][a-z0-9_-]{0,39}\.wav")
_INPUT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}(\.[a-z0-9]{1,10}){0,3}")  # upload.mid, upload.provenance.json
_MEDIA = {
    ".mid": "audio/midi",
    ".musicxml": "application/vnd.recordare.musicxml+xml",
    ".wav": "audio/wav",
    ".png": "image/png",
    ".json": "application/json",
}
KEEP_BYTES = 8 * 1024**3  # results kept at once; past it the oldest finished jobs expire early
PROGRESS_EVERY_S = 0.1
POLL_S = 0.2


def result_name(name: str) -> bool:
    """Whether ``name`` is one of the result file names a job may list."""
    return name in RESULT_NAMES or _STEM.fullmatch(name) is not None


def media_type(name: str) -> str:
    return _MEDIA.get(Path(name).suffix, "application/octet-stream")


def _iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class QueueFullError(Exception):
    """The queue holds ``queue_limit`` jobs: come back in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"the queue is full; try again in {retry_after} s")


@dataclass
class Job:
    id: str
    kind: str
    params: dict[str, Any]
    folder: Path
    created: float = field(default_factory=time.time)
    status: str = "queued"
    done: int = 0
    total: int = 0
    error: str | None = None
    finished: float | None = None
    expires: float | None = None
    files: list[tuple[str, int]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    version: int = 0  # bumped at each change (the events stream sends one per change)


class Engine:
    """The job store, queue and worker pool. :meth:`start` before use, :meth:`stop` at the end."""

    def __init__(self, settings: Settings, kinds: Iterable[str]) -> None:
        self.settings = settings
        self.kinds = frozenset(kinds)
        self._own_dir = settings.data_dir is None
        root = Path(tempfile.mkdtemp(prefix="cadenza-serve-")) if settings.data_dir is None else settings.data_dir
        if self._own_dir:  # removed by stop(), or when the engine goes if it never ran
            weakref.finalize(self, shutil.rmtree, root, True)
        self.root = root / "jobs"
        self._jobs: dict[str, Job] = {}
        self._queue: deque[Job] = deque()
        self._lock = threading.Condition()
        self._stopping = False
        self._slots = [_Slot(self, n) for n in range(settings.workers)]
        self._threads: list[threading.Thread] = []
        self._busy = 0

    # life ------------------------------------------------------------------------------
    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for stale in self.root.iterdir():  # a previous run's jobs: their ids are gone with it
            if _JOB_ID.fullmatch(stale.name) and stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
        for slot in self._slots:
            slot.start_process()
        self._threads = [
            threading.Thread(target=s.run, name=f"cadenza-slot-{s.index}", daemon=True) for s in self._slots
        ]
        self._threads.append(threading.Thread(target=self._janitor, name="cadenza-janitor", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        for slot in self._slots:
            slot.stop_process(final=True)
        for thread in self._threads:
            thread.join(timeout=5)
        if self._own_dir:
            shutil.rmtree(self.root.parent, ignore_errors=True)

    # requests --------------------------------------------------------------------------
    def submit(self, kind: str, params: Mapping[str, Any], inputs: Mapping[str, bytes] | None = None) -> dict[str, Any]:
        """Queue a job of ``kind``; ``inputs`` are saved as ``input/<name>`` first (names
        made by the route, e.g. ``upload.mid``). Raises :class:`QueueFullError`."""
        if kind not in self.kinds:
            raise InvalidArgumentError(f"unknown kind of job {kind!r}")
        for name in inputs or {}:
            if _INPUT_NAME.fullmatch(name) is None:
                raise ValueError(f"not a safe input name: {name!r}")  # a bug in a route, not the client's
        with self._lock:
            self._check_room()
        job_id = secrets.token_urlsafe(18)
        folder = self.root / job_id
        (folder / "input").mkdir(parents=True)
        (folder / "out").mkdir()
        for name, data in (inputs or {}).items():
            (folder / "input" / name).write_bytes(data)
        job = Job(job_id, kind, dict(params), folder)
        with self._lock:
            try:
                self._check_room()
            except QueueFullError:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            self._jobs[job_id] = job
            self._queue.append(job)
            self._lock.notify_all()
            return self._status(job)

    def _check_room(self) -> None:
        idle = len(self._slots) - self._busy
        waiting = max(0, len(self._queue) + 1 - idle)  # jobs that would wait, this one included
        if waiting > self.settings.queue_limit or self._stopping:
            raise QueueFullError(self._retry_after())

    def _retry_after(self) -> int:
        return max(1, min(60, 2 * (len(self._queue) // max(1, len(self._slots)) + 1)))

    def status(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else self._status(job)

    def version(self, job_id: str) -> int | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.version

    def cancel(self, job_id: str) -> dict[str, Any] | None:
        """Cancel a queued job (dropped from the queue) or a running one (its worker is
        stopped and replaced); a job that has ended is left as it is."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job.status == "queued":
                self._queue.remove(job)
                self._end(job, "cancelled")
            elif job.status == "running":
                self._end(job, "cancelled")
                for slot in self._slots:
                    if slot.job is job:
                        # under the lock: the slot cannot hand this process another job first
                        slot.doom()
            return self._status(job)

    def file(self, job_id: str, name: str) -> Path | None:
        """The path of a result file the job listed, or None."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or name not in {n for n, _ in job.files}:
                return None
            path = job.folder / "out" / name
        return path if path.is_file() and not path.is_symlink() else None

    def wait(self, job_id: str, timeout: float) -> dict[str, Any] | None:
        """The status once the job has ended, or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                job = self._jobs.get(job_id)
                if job is None or job.status in FINAL or (left := deadline - time.monotonic()) <= 0:
                    return None if job is None else self._status(job)
                self._lock.wait(left)

    def wait_change(self, job_id: str, version: int, timeout: float) -> dict[str, Any] | None:
        """The status once its version differs from ``version``, or after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                job = self._jobs.get(job_id)
                if job is None or job.version != version or (left := deadline - time.monotonic()) <= 0:
                    return None if job is None else self._status(job)
                self._lock.wait(left)

    # inside ----------------------------------------------------------------------------
    def _status(self, job: Job) -> dict[str, Any]:
        position = None
        if job.status == "queued":
            position = next(n for n, queued in enumerate(self._queue) if queued is job)
        url = f"/api/jobs/{job.id}/files/"
        return {
            "id": job.id,
            "kind": job.kind,
            "status": job.status,
            "position": position,
            "progress": {"done": job.done, "total": job.total},
            "error": job.error,
            "created": _iso(job.created),
            "finished": _iso(job.finished),
            "expires": _iso(job.expires),
            "files": [{"name": n, "media_type": media_type(n), "bytes": b, "url": url + n} for n, b in job.files],
            "summary": job.summary,
        }

    def _changed(self, job: Job) -> None:
        job.version += 1
        self._lock.notify_all()

    def _end(self, job: Job, status: str, error: str | None = None) -> None:
        job.status, job.error = status, error
        job.finished = time.time()
        job.expires = job.finished + self.settings.keep_seconds
        if status == "done":
            job.files = _listed(job.folder / "out")
            self._make_room(job)
        self._changed(job)

    def _make_room(self, newest: Job) -> None:
        """Expire the oldest finished jobs (now: the janitor deletes them) while the
        results kept pass :data:`KEEP_BYTES`; the newest is always kept."""
        now = time.time()
        kept_jobs = [j for j in self._jobs.values() if j.finished is not None and (j.expires or 0) > now]
        kept = sum(size for j in kept_jobs for _, size in j.files)
        for job in sorted(kept_jobs, key=lambda j: j.finished or 0):
            if kept <= KEEP_BYTES or job is newest:
                break
            job.expires = now
            kept -= sum(size for _, size in job.files)
            self._changed(job)

    def _next(self, slot: _Slot) -> Job | None:
        with self._lock:
            while not self._queue and not self._stopping:
                self._lock.wait()
            if self._stopping:
                return None
            job = self._queue.popleft()
            job.status = "running"
            slot.job = job
            self._busy += 1
            self._changed(job)
            return job

    def _report(self, job: Job, message: tuple[Any, ...]) -> None:
        with self._lock:
            if job.status != "running":
                return  # cancelled meanwhile: what the worker says no longer counts
            if message[0] == "progress":
                job.done, job.total = int(message[1]), int(message[2])
                self._changed(job)
            elif message[0] == "done":
                job.summary = message[1]
                if job.total:
                    job.done = job.total
                self._end(job, "done")
            else:
                self._end(job, "failed", message[1])

    def _timed_out(self, job: Job) -> None:
        with self._lock:
            if job.status == "running":
                limit = self.settings.job_seconds
                self._end(job, "failed", f"the job took longer than {limit:g} s, the limit of this server")

    def _release(self, slot: _Slot, job: Job, died: bool) -> None:
        with self._lock:
            slot.job = None
            self._busy -= 1
            if job.status == "running":
                if died and not self._stopping:
                    log.error("job %s (%s): its worker process stopped", job.id, job.kind)
                self._end(job, "failed", INTERNAL)
            self._lock.notify_all()

    def _janitor(self) -> None:
        period = min(1.0, self.settings.keep_seconds / 4)
        while True:
            with self._lock:
                if self._stopping:
                    return
                self._lock.wait(period)
                now = time.time()
                expired = [j for j in self._jobs.values() if j.expires is not None and j.expires <= now]
                for job in expired:
                    del self._jobs[job.id]
            for job in expired:
                shutil.rmtree(job.folder, ignore_errors=True)


def _listed(out: Path) -> list[tuple[str, int]]:
    """The result files in ``out``: regular files with a known name, sorted."""
    found = []
    for entry in sorted(out.iterdir(), key=lambda p: p.name) if out.is_dir() else []:
        if result_name(entry.name) and entry.is_file() and not entry.is_symlink():
            found.append((entry.name, entry.stat().st_size))
    return found


class _Slot:
    """One worker process and the thread that feeds it."""

    def __init__(self, engine: Engine, index: int) -> None:
        self.engine = engine
        self.index = index
        self.job: Job | None = None
        self.process: Any = None
        self.conn: Connection | None = None
        self._guard = threading.Lock()
        self._doomed = False
        self._closed = False

    def doom(self) -> None:
        """Stop the process now (its job is cancelled); a fresh one replaces it."""
        with self._guard:
            self._doomed = True
            if self.process is not None:
                self.process.terminate()

    def start_process(self) -> None:
        """Start a fresh worker, unless the engine has stopped (under the guard, so that
        :meth:`stop_process` either sees the new process or keeps it from starting)."""
        with self._guard:
            if self._closed:
                return
            context = multiprocessing.get_context("spawn")
            ours, theirs = context.Pipe()
            name = f"cadenza-worker-{self.index}"
            process = context.Process(target=worker_main, args=(theirs,), name=name, daemon=True)
            process.start()
            theirs.close()
            self.process, self.conn, self._doomed = process, ours, False

    def stop_process(self, final: bool = False) -> None:
        """Stop the worker (terminate, then kill); ``final``: and start no other."""
        with self._guard:
            self._closed = self._closed or final
            process, conn = self.process, self.conn
            self.process = self.conn = None
        if process is None:
            return
        process.terminate()
        process.join(timeout=3)
        if process.is_alive():
            process.kill()
            process.join(timeout=3)
        if conn is not None:
            conn.close()

    def run(self) -> None:
        while (job := self.engine._next(self)) is not None:
            died = False
            try:
                self._follow(job)
            except (EOFError, OSError):
                died = True
            self.engine._release(self, job, died)
            if died and not self.engine._stopping:
                self._restart()  # at once: the next job should not wait for a process to start

    def _restart(self) -> None:
        self.stop_process()
        self.start_process()

    def _follow(self, job: Job) -> None:
        with self._guard:
            fresh = self._doomed or self.process is None or not self.process.is_alive()
        if fresh:  # stopped after its last job ended (a late cancel), or died between jobs
            self._restart()
        with self._guard:
            process, conn = self.process, self.conn
        if process is None or conn is None:
            raise EOFError  # the engine is stopping
        conn.send((job.kind, job.params, str(job.folder)))
        deadline = time.monotonic() + self.engine.settings.job_seconds
        while True:
            if conn.poll(POLL_S):
                message = conn.recv()
                self.engine._report(job, message)
                if message[0] != "progress":
                    return
            elif not process.is_alive():
                raise EOFError
            elif time.monotonic() > deadline:
                self.engine._timed_out(job)
                raise EOFError  # the worker is stopped and replaced


# the worker process ------------------------------------------------------------------
def _clean(message: str, folder: Path) -> str:
    """A failure's message without the server's folders in it."""
    return message.replace(f"{folder / 'out'}/", "").replace(f"{folder / 'input'}/", "").replace(str(folder), "job")


def _run_one(kind: str, params: dict[str, Any], folder: Path, conn: Connection) -> tuple:
    from cadenza.service.kinds import WORK

    work = WORK.get(kind)
    if work is None:
        log.error("no work function for %r", kind)
        return ("failed", INTERNAL)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S or done >= total:
            last[0] = now
            conn.send(("progress", int(done), int(total)))

    try:
        summary = work(params, folder, progress)
    except CadenzaError as error:
        return ("failed", _clean(str(error), folder))
    except Exception:
        log.exception("a %s job failed", kind)
        return ("failed", INTERNAL)
    return ("done", _plain(summary) if isinstance(summary, dict) else {})


def _plain(value: Any) -> Any:
    """``value`` as JSON can say it: NaN and infinities become null, tuples lists, and
    anything else that is not JSON its text (a summary is shown, never computed on)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def worker_main(conn: Connection) -> None:
    """A worker process: run the jobs it is sent, one at a time, until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    logging.basicConfig(level=logging.INFO, format="cadenza worker: %(levelname)s %(message)s")
    import cadenza.compose.pipeline
    import cadenza.service.kinds  # noqa: F401 (imported before the first job, not during it)

    while True:
        try:
            kind, params, folder = conn.recv()
        except (EOFError, OSError):
            return
        answer = _run_one(kind, params, Path(folder), conn)
        try:
            conn.send(answer)
        except (BrokenPipeError, OSError):
            return
