"""The studio's service under load: ``cadenza serve`` on loopback, measured with an async client.

    python bench/bench_service.py [--requests 16] [--workers 2] [--queue-limit 20] [--max-seconds 600]

A real ``cadenza serve`` is started as a child process on a free 127.0.0.1 port, with
its own temporary ``--data-dir`` and its own signing keys (``CADENZA_HOME`` in a
temporary folder, as tests/service_helpers.py does), ``--rate 0`` (every request comes
from one client here: the per-client limit would refuse most of them). Once
``/api/health`` answers (issue 17, "Measured"):

0. **The peer, in-process**: the same generation done by the library in this process,
   one at a time, after the model is loaded: :func:`~cadenza.compose.pipeline.compose_piece`
   alone, and the service's own work function (:func:`cadenza.service.work.generate`:
   compose_piece, then music.mid with its signed record, MusicXML, WAV, piano roll,
   originality report), ``--peer-runs`` seeds; medians.
1. **Generate, 30 s of music**, for cadenza-markov and for the default model (a request
   without ``model``: the one ``GET /api/models`` marks ``default``): ``{"seconds": 30,
   "seed": k}``. First ``--single`` requests one at a time, then ``--requests`` with
   ``--concurrency`` in flight (default: the worker count). Each is sent with
   ``?wait=30`` and then polled (``GET /api/jobs/ID`` every ``--poll`` s) to its end.
   Latency is submit -> done as the client sees it; p50 and p95 by nearest rank;
   throughput = jobs done / the phase's wall time; an error is any answer that is not
   2xx, a job that fails, or a request that cannot be sent. The music.mid of the first
   seeds is fetched and compared with the in-process one's bytes (same seed, same music).
2. **Overload**: ``max(10 x workers, queue_limit + workers + 4)`` requests of the default
   model sent at once (``?wait=0``, so the answer shows the queue position): how many
   were accepted, how many refused with 503 + ``Retry-After`` (each refusal checked to be
   one clean JSON error), the queue positions seen, p50/p95 of the accepted ones.
3. **Memory**: RSS (and PSS, which counts shared pages once) of the server process and
   its children (the worker processes), read from /proc, after each phase; at the end
   the server is stopped with Ctrl-C's signal and every process of its tree must be gone.

``--max-seconds`` caps the whole run: what has not finished by then is reported as cut,
not waited for. Seeded: the music is the same on each run, the timings are not.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

MARKOV = "cadenza-markov"
SECONDS = 30.0
FINAL = ("done", "failed", "cancelled")
REPO = Path(__file__).resolve().parents[1]


# the server as a child process -----------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path
    command: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_server(folder: Path, workers: int, queue_limit: int) -> Server:
    port = free_port()
    flags = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
             "--queue-limit", str(queue_limit), "--rate", "0", "--data-dir", str(folder / "data")]  # fmt: skip
    command = [sys.executable, "-c", "from cadenza.cli import main; main()", *flags]
    env = {**os.environ, "CADENZA_HOME": str(folder / "cadenza-home")}
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder)
    return Server(process, port, log, ["cadenza", *flags])


def wait_healthy(server: Server, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            answer = httpx.get(server.url + "/api/health", timeout=2)
            if answer.status_code == 200:
                return answer.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    tail = server.log.read_text(errors="replace")[-2000:]
    stop_server(server)
    sys.exit(f"cadenza serve did not answer /api/health within {timeout:g} s; its log ends:\n{tail}")


def stop_server(server: Server) -> int | None:
    """Ctrl-C's signal, then kill after 20 s; the exit code (None: had to be killed)."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            return server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
            return None
    return server.process.returncode


# memory from /proc -------------------------------------------------------------------------
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])  # after "pid (comm) state"
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def process_tree(root: int) -> list[int]:
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def _kib(path: Path, field_name: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "server"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "other"
    if "resource_tracker" in command:
        return "other"
    return "worker" if "multiprocessing" in command else "other"


@dataclass
class Memory:
    moment: str
    server_kib: int
    worker_kib: list[int]
    other_kib: int
    pss_kib: int

    @property
    def rss_kib(self) -> int:
        return self.server_kib + sum(self.worker_kib) + self.other_kib


def memory(root: int, moment: str) -> Memory:
    server, workers, other, pss = 0, [], 0, 0
    for pid in process_tree(root):
        rss = _kib(Path(f"/proc/{pid}/status"), "VmRSS")
        pss += _kib(Path(f"/proc/{pid}/smaps_rollup"), "Pss")
        role = _role(pid, root)
        if role == "server":
            server = rss
        elif role == "worker":
            workers.append(rss)
        else:
            other += rss
    return Memory(moment, server, sorted(workers), other, pss)


# the client ---------------------------------------------------------------------------------
@dataclass
class Outcome:
    seed: int
    sent: float
    code: int = 0  # the POST's status code (0: never answered)
    status: str = ""  # the job's last status seen
    ended: float | None = None
    error: str | None = None  # what went wrong, for the client (None: nothing)
    position: int | None = None  # the queue position in the POST's answer
    refusal: dict[str, Any] = field(default_factory=dict)  # a 503: its body and Retry-After
    job: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else self.ended - self.sent


def body(model: str | None, seed: int) -> dict[str, Any]:
    request: dict[str, Any] = {"seconds": SECONDS, "seed": seed}
    if model is not None:
        request["model"] = model
    return request


async def one_job(client: httpx.AsyncClient, model: str | None, seed: int, wait: float, poll: float) -> Outcome:
    outcome = Outcome(seed, time.perf_counter())
    try:
        answer = await client.post(f"/api/generate?wait={wait:g}", json=body(model, seed))
        outcome.code = answer.status_code
        if answer.status_code == 503:
            outcome.refusal = {"headers": dict(answer.headers), "text": answer.text}
            outcome.status = "refused"
            return outcome
        if answer.status_code not in (200, 202):
            outcome.error = f"{answer.status_code}: {answer.text[:120]}"
            return outcome
        status = answer.json()
        outcome.position = status.get("position")
        while status["status"] not in FINAL:
            await asyncio.sleep(poll)
            answer = await client.get(f"/api/jobs/{status['id']}")
            if answer.status_code != 200:
                outcome.error = f"GET job {answer.status_code}: {answer.text[:120]}"
                return outcome
            status = answer.json()
        outcome.ended = time.perf_counter()
        outcome.status, outcome.job = status["status"], status
        if status["status"] != "done":
            outcome.error = f"job {status['status']}: {status.get('error')}"
    except httpx.HTTPError as error:
        outcome.error = f"{type(error).__name__}: {error}"
    return outcome


async def run_phase(
    url: str, model: str | None, seeds: list[int], concurrency: int, wait: float, poll: float, deadline: float
) -> tuple[list[Outcome], float, int]:
    """The outcomes that ended before ``deadline``, the phase's wall seconds, and how many were cut."""
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency + 8)

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def gated(seed: int) -> Outcome:
            async with gate:
                return await one_job(client, model, seed, wait, poll)

        started = time.perf_counter()
        tasks = [asyncio.create_task(gated(seed)) for seed in seeds]
        left = max(0.0, deadline - time.monotonic())
        finished, pending = await asyncio.wait(tasks, timeout=left)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        wall = time.perf_counter() - started
        return sorted((t.result() for t in finished), key=lambda o: o.seed), wall, len(pending)


async def fetch_midis(url: str, outcomes: list[Outcome], seeds: list[int]) -> dict[int, str]:
    """sha256 of music.mid of the done jobs of these seeds."""
    found = {}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for outcome in outcomes:
            if outcome.seed in seeds and outcome.status == "done":
                answer = await client.get(f"/api/jobs/{outcome.job['id']}/files/music.mid")
                if answer.status_code == 200:
                    found[outcome.seed] = hashlib.sha256(answer.content).hexdigest()
    return found


# the in-process peer ------------------------------------------------------------------------
@dataclass
class Peer:
    model: str
    compose: list[float]
    work: list[float]
    midi: dict[int, str]


def peer(model: str | None, seeds: list[int], folder: Path) -> Peer:
    from cadenza.compose import Conditions, Sampling, compose_piece
    from cadenza.provenance.signing import default_key
    from cadenza.service.work import composer, generate

    name = model or "default"
    loaded = composer(name)  # loaded once, as a worker keeps it (functools.lru_cache)
    key = default_key()
    compose_piece(loaded, Conditions(seconds=SECONDS), Sampling(seed=999), "NORMAL", key)  # warm, untimed
    compose, work, midi = [], [], {}
    for seed in seeds:
        started = time.perf_counter()
        compose_piece(loaded, Conditions(seconds=SECONDS), Sampling(seed=seed), "NORMAL", key)
        compose.append(time.perf_counter() - started)
        job = folder / f"{name}-{seed}"
        (job / "out").mkdir(parents=True)
        started = time.perf_counter()
        generate(body(model, seed), job, lambda done, total: None)
        work.append(time.perf_counter() - started)
        midi[seed] = hashlib.sha256((job / "out" / "music.mid").read_bytes()).hexdigest()
    return Peer(loaded.info.name, compose, work, midi)


# figures and tables --------------------------------------------------------------------------
def nearest_rank(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def machine_line(workers: int, queue_limit: int) -> str:
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")  # fmt: skip
    memory_gib = _kib(Path("/proc/meminfo"), "MemTotal") / 1024**2
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return (
        f"machine: {platform.machine()}, {cpu}, {os.cpu_count()} cores, {memory_gib:.0f} GiB, Python "
        f"{platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads); commit "
        f"{commit}; load average {os.getloadavg()[0]:.1f} at the start; server: --workers {workers} "
        f"--queue-limit {queue_limit} --rate 0"
    )


def peer_table(peers: list[Peer]) -> Table:
    table = Table(
        title=f"0. The peer: the same request ({SECONDS:g} s of music) in this process, one at a time, model loaded "
        "and one piece composed first (untimed); seconds"
    )
    for column in ("model", "runs", "compose_piece p50", "max", "work function p50", "max"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for p in peers:
        table.add_row(p.model, str(len(p.compose)), _s(statistics.median(p.compose)), _s(max(p.compose)),
                      _s(statistics.median(p.work)), _s(max(p.work)))  # fmt: skip
    return table


@dataclass
class Phase:
    model: str
    name: str
    concurrency: int
    asked: int
    outcomes: list[Outcome]
    wall: float
    cut: int
    peer: Peer
    same_midi: tuple[int, int] = (0, 0)


def load_table(phases: list[Phase]) -> Table:
    table = Table(
        title=f"1. Generate {SECONDS:g} s of music over HTTP: latency submit -> done (s, nearest rank), throughput "
        "(jobs done / the phase's wall time), errors (non-2xx, failed jobs, requests that could not be sent); x peer "
        "= p50 / the in-process p50 of table 0"
    )
    columns = ("model", "phase", "asked", "done", "errors", "cut", "p50", "p95", "max", "jobs/min",
               "x work fn", "x compose_piece", "MIDI = in-process")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in ("model", "phase") else "right")
    for phase in phases:
        times = [o.seconds for o in phase.outcomes if o.status == "done" and o.seconds is not None]
        errors = sum(1 for o in phase.outcomes if o.error is not None)
        p50 = statistics.median(times) if times else None
        same, compared = phase.same_midi
        table.add_row(
            phase.model,
            phase.name,
            str(phase.asked),
            str(len(times)),
            str(errors),
            str(phase.cut),
            _s(p50),
            _s(nearest_rank(times, 0.95) if times else None),
            _s(max(times) if times else None),
            f"{len(times) / phase.wall * 60:.1f}" if phase.wall > 0 else "—",
            _ratio(p50, phase.peer.work),
            _ratio(p50, phase.peer.compose),
            f"{same}/{compared}" if compared else "—",
        )
    return table


def _ratio(p50: float | None, peer: list[float]) -> str:
    return "—" if p50 is None else f"{p50 / statistics.median(peer):.2f}"


def clean_refusal(outcome: Outcome) -> bool:
    """A 503 that is one JSON error with a Retry-After of whole seconds."""
    headers = {k.lower(): v for k, v in outcome.refusal.get("headers", {}).items()}
    try:
        data = json.loads(outcome.refusal.get("text", ""))
    except ValueError:
        return False
    retry = headers.get("retry-after", "")
    return (
        headers.get("content-type", "").startswith("application/json")
        and isinstance(data, dict)
        and list(data) == ["error"]
        and isinstance(data["error"], str)
        and bool(data["error"])
        and "\n" not in data["error"]
        and retry.isdigit()
        and int(retry) >= 1
    )


def overload_table(model: str, outcomes: list[Outcome], sent: int, wall: float, cut: int, workers: int,
                   queue_limit: int) -> Table:  # fmt: skip
    accepted = [o for o in outcomes if o.code in (200, 202)]
    refused = [o for o in outcomes if o.code == 503]
    other = [o for o in outcomes if o.code not in (200, 202, 503)]
    done = [o.seconds for o in accepted if o.status == "done" and o.seconds is not None]
    failed = sum(1 for o in accepted if o.error is not None)
    positions = [o.position for o in accepted if o.position is not None]
    retry = sorted({o.refusal["headers"].get("retry-after", "?") for o in refused}, key=lambda v: v.zfill(9))
    clean = sum(1 for o in refused if clean_refusal(o))
    messages = sorted({json.loads(o.refusal["text"]).get("error", "") for o in refused if clean_refusal(o)})
    table = Table(
        title=f"2. Overload: {sent} requests of {model} ({SECONDS:g} s of music) at once = max(10 x {workers} "
        f"workers, queue limit {queue_limit} + workers + 4); the server holds {workers} running + {queue_limit} "
        "waiting"
    )
    table.add_column("measure", justify="left")
    table.add_column("value", justify="right")
    rows = [
        ("sent at once", str(sent)),
        ("accepted (202)", str(len(accepted))),
        ("refused: 503", str(len(refused))),
        ("  of those, one JSON error + Retry-After", f"{clean}/{len(refused)}"),
        ("  Retry-After (s) seen", ", ".join(retry) or "—"),
        ("  their message", "; ".join(messages) or "—"),
        ("other answers (errors)", str(len(other)) + ("" if not other else f" ({other[0].error})")),
        ("queue positions in the 202 answers", _positions(positions)),
        ("accepted: done / failed / cut", f"{len(done)} / {failed} / {cut}"),
        ("accepted: latency p50 / p95 / max, s", " / ".join(_s(v) for v in _summary(done))),
        ("wall time until the last ended, s", _s(wall)),
        ("throughput, jobs/min", f"{len(done) / wall * 60:.1f}" if wall > 0 else "—"),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def _positions(positions: list[int]) -> str:
    """``0 (x3), 1..19 (x1)``: each value with how many answers showed it, runs of the same count joined."""
    if not positions:
        return "—"
    counts = sorted(Counter(positions).items())
    runs: list[list[int]] = []  # [first, last, count]
    for value, count in counts:
        if runs and runs[-1][1] == value - 1 and runs[-1][2] == count:
            runs[-1][1] = value
        else:
            runs.append([value, value, count])
    return ", ".join(f"{a}{'' if a == b else f'..{b}'} (x{n})" for a, b, n in runs)


def _summary(values: list[float]) -> tuple[float | None, float | None, float | None]:
    if not values:
        return None, None, None
    return statistics.median(values), nearest_rank(values, 0.95), max(values)


def memory_table(moments: list[Memory], stopped: str) -> Table:
    table = Table(
        title="3. Memory of the server's process tree from /proc, MiB: RSS per process (shared pages counted in "
        f"each), PSS of the tree (shared pages split); {stopped}"
    )
    for column in ("after", "server RSS", "workers", "worker RSS each", "other", "tree RSS", "tree PSS"):
        table.add_column(column, justify="left" if column == "after" else "right")
    for m in moments:
        table.add_row(m.moment, _mib(m.server_kib), str(len(m.worker_kib)),
                      ", ".join(_mib(k) for k in m.worker_kib) or "—", _mib(m.other_kib), _mib(m.rss_kib),
                      _mib(m.pss_kib) if m.pss_kib else "—")  # fmt: skip
    return table


def stop_line(code: int | None, tree: dict[int, str]) -> str:
    """What stopping the server left: its exit code, and the processes of its tree still
    alive 5 s later (a worker left behind would hold its memory)."""
    if code is None:
        return "the server did not stop within 20 s of SIGINT and was killed"
    deadline = time.monotonic() + 5
    while (alive := [pid for pid in tree if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    roles = ", ".join(sorted(tree[pid] for pid in alive))
    return f"stopped by SIGINT: exit code {code}; of its {len(tree)} processes, {len(alive)} alive 5 s later" + (
        f" ({roles})" if alive else ""
    )


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"  # a zombie holds no memory


def load_phases(
    server: Server, peers: dict[str | None, Peer], default: str, args: argparse.Namespace, deadline: float,
    moments: list[Memory],
) -> list[Phase]:  # fmt: skip
    """Per model: ``--single`` requests one at a time, then ``--requests`` at ``--concurrency``."""
    concurrency = args.concurrency or args.workers
    phases = []
    for model, found in peers.items():
        shown = model or f"{default} (default)"
        plan = [("one at a time", 1, list(range(1000, 1000 + args.single)))] if args.single else []
        plan.append((f"{concurrency} at a time", concurrency, list(range(args.requests))))
        for name, width, seeds in plan:
            outcomes, wall, cut = asyncio.run(run_phase(server.url, model, seeds, width, 30, args.poll, deadline))
            phase = Phase(shown, name, width, len(seeds), outcomes, wall, cut, found)
            compared = [seed for seed in found.midi if seed in seeds]
            if compared:
                served = asyncio.run(fetch_midis(server.url, outcomes, compared))
                phase.same_midi = (sum(1 for seed in compared if served.get(seed) == found.midi[seed]), len(compared))
            phases.append(phase)
        moments.append(memory(server.process.pid, f"{shown}: {args.single} + {args.requests} requests"))
    return phases


# the run -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=16, help="Generate requests per model in the load phase.")
    parser.add_argument("--single", type=int, default=3, help="Requests per model sent one at a time first.")
    parser.add_argument("--workers", type=int, default=2, help="cadenza serve --workers.")
    parser.add_argument("--queue-limit", type=int, default=20, help="cadenza serve --queue-limit.")
    parser.add_argument("--concurrency", type=int, help="Requests in flight in the load phase (default: --workers).")
    parser.add_argument("--peer-runs", type=int, default=3, help="In-process runs per model (seeds 0..N-1).")
    parser.add_argument("--no-overload", action="store_true", help="Skip the overload phase.")
    parser.add_argument("--poll", type=float, default=0.25, help="Seconds between two GETs of a job's status.")
    parser.add_argument("--max-seconds", type=float, default=600, help="The whole run stops by then.")
    args = parser.parse_args(argv)
    for name in ("requests", "workers", "peer_runs"):
        if getattr(args, name) < 1:
            sys.exit(f"--{name.replace('_', '-')} must be at least 1")
    if args.concurrency is not None and args.concurrency < 1:
        sys.exit("--concurrency must be at least 1")
    if args.single < 0 or args.queue_limit < 0 or args.poll <= 0 or args.max_seconds <= 0:
        sys.exit("--single and --queue-limit must be >= 0, --poll and --max-seconds > 0")
    console = Console(width=170)
    began = time.monotonic()
    deadline = began + args.max_seconds
    with tempfile.TemporaryDirectory(prefix="bench-service-") as temporary:
        folder = Path(temporary)
        os.environ["CADENZA_HOME"] = str(folder / "cadenza-home")  # the peer signs with the server's keys
        console.print(machine_line(args.workers, args.queue_limit), highlight=False)
        server = start_server(folder, args.workers, args.queue_limit)
        try:
            health = wait_healthy(server, timeout=min(120.0, args.max_seconds))
            models = httpx.get(server.url + "/api/models", timeout=10).json()["models"]
            default = next(m["name"] for m in models if m.get("default"))
            console.print(f"{' '.join(server.command)}: health {health}; default model {default}", highlight=False)
            moments = [memory(server.process.pid, "start (/api/health answered)")]
            peers = {m: peer(m, list(range(args.peer_runs)), folder / "peer") for m in (MARKOV, None)}
            console.print(peer_table(list(peers.values())))
            phases = load_phases(server, peers, default, args, deadline, moments)
            console.print(load_table(phases))
            for phase in phases:
                for o in (o for o in phase.outcomes if o.error is not None):
                    console.print(f"  error: {phase.model}, {phase.name}, seed {o.seed}: {o.error}", highlight=False)
            if not args.no_overload:
                sent = max(10 * args.workers, args.queue_limit + args.workers + 4)
                outcomes, wall, cut = asyncio.run(
                    run_phase(server.url, None, list(range(2000, 2000 + sent)), sent, 0, args.poll, deadline)
                )
                console.print(overload_table(default, outcomes, sent, wall, cut, args.workers, args.queue_limit))
                moments.append(memory(server.process.pid, f"overload ({sent} at once)"))
            tree = {pid: _role(pid, server.process.pid) for pid in process_tree(server.process.pid)}
        finally:
            code = stop_server(server)
        stopped = stop_line(code, tree)
        console.print(memory_table(moments, stopped))
    console.print(f"whole run: {time.monotonic() - began:.0f} s (cap {args.max_seconds:g} s)", highlight=False)


if __name__ == "__main__":
    main()
