"""The job engine behind ``cadenza serve``: the bounded queue, cancel, expiry, progress,
file names that cannot leave a job's folder, unguessable ids, rate limits and API keys.
Real worker processes compose with the Markov model."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from cadenza.errors import InputFileError, InvalidArgumentError
from cadenza.service.settings import Settings, read_api_keys
from tests.service_helpers import LONG, SMALL, finished, is_error, poll, raw_get, serving

ID = re.compile(r"[A-Za-z0-9_-]{24}")


def test_a_full_queue_is_503_with_retry_after(tmp_path: Path) -> None:
    with serving(tmp_path, workers=1, queue_limit=1) as client:
        first = client.post("/api/generate", json=LONG)
        second = client.post("/api/generate", json=LONG)
        third = client.post("/api/generate", json=LONG)
        assert (first.status_code, second.status_code) == (202, 202)
        assert "queue is full" in is_error(third, 503)
        assert int(third.headers["retry-after"]) >= 1
        assert second.json()["status"] == "queued" and second.json()["position"] == 0
        assert len(list((tmp_path / "data" / "jobs").iterdir())) == 2  # the refused one left no folder


def test_cancel_drops_a_queued_job_and_the_queue_moves_up(tmp_path: Path) -> None:
    with serving(tmp_path, workers=1, queue_limit=5) as client:
        client.post("/api/generate", json=LONG)
        second = client.post("/api/generate", json=LONG).json()
        third = client.post("/api/generate", json=LONG).json()
        assert third["position"] == 1
        cancelled = client.delete(f"/api/jobs/{second['id']}")
        assert cancelled.status_code == 200
        status = cancelled.json()
        assert status["status"] == "cancelled" and status["position"] is None and status["expires"] is not None
        assert client.get(f"/api/jobs/{third['id']}").json()["position"] == 0
        assert client.delete(f"/api/jobs/{second['id']}").json()["status"] == "cancelled"  # twice: the same


@pytest.mark.slow
def test_cancel_stops_a_running_job_and_a_fresh_worker_takes_the_next(tmp_path: Path) -> None:
    with serving(tmp_path, workers=1, queue_limit=5) as client:
        running = client.post("/api/generate", json=LONG).json()
        waiting = client.post("/api/generate", json=SMALL).json()
        poll(client, running["id"], lambda s: s["status"] == "running" and s["progress"]["done"] > 0)
        status = client.delete(f"/api/jobs/{running['id']}").json()
        assert status["status"] == "cancelled" and status["files"] == []
        later = poll(client, running["id"], lambda s: True)
        assert later["status"] == "cancelled"  # what the stopped worker had done does not count
        done = poll(client, waiting["id"], lambda s: s["status"] in ("done", "failed"), timeout=40)
        assert done["status"] == "done", done


def test_progress_moves_while_a_job_runs(tmp_path: Path) -> None:
    with serving(tmp_path, workers=1) as client:
        job = client.post("/api/generate", json=LONG).json()
        first = poll(client, job["id"], lambda s: s["progress"]["done"] > 0)
        total = first["progress"]["total"]
        assert total == LONG["bars"] and 0 < first["progress"]["done"] < total
        later = poll(client, job["id"], lambda s: s["progress"]["done"] > first["progress"]["done"])
        assert later["status"] == "running" and later["progress"]["total"] == total
        client.delete(f"/api/jobs/{job['id']}")


def test_a_finished_job_expires_with_its_folder(tmp_path: Path) -> None:
    with serving(tmp_path, workers=1, keep_seconds=1.5) as client:
        job = finished(client, client.post("/api/generate?wait=30", json=SMALL))
        assert job["status"] == "done"
        folder = tmp_path / "data" / "jobs" / job["id"]
        assert (folder / "out" / "music.mid").is_file()
        deadline = time.monotonic() + 10
        while client.get(f"/api/jobs/{job['id']}").status_code == 200:
            assert time.monotonic() < deadline, "the job never expired"
            time.sleep(0.1)
        is_error(client.get(f"/api/jobs/{job['id']}"), 404)
        is_error(client.get(f"/api/jobs/{job['id']}/files/music.mid"), 404)
        assert not folder.exists()


TRAVERSALS = [
    "../x",
    "..%2fx",
    "%2e%2e",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..",
    ".",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "record.json%2f..%2fmusic.mid",
    "music.mid.provenance.json",
    "secret.txt",
    "..%5csecret.txt",
    "input",
    "out",
    "MUSIC.MID",
    "music.mid%00.png",
]


def test_file_names_cannot_reach_outside_the_jobs_list(tmp_path: Path) -> None:
    with serving(tmp_path, workers=1) as client:
        job = finished(client, client.post("/api/generate?wait=30", json=SMALL))
        folder = tmp_path / "data" / "jobs" / job["id"]
        (folder / "out" / "secret.txt").write_text("not listed")
        (folder / "input" / "upload.mid").write_text("not listed")
        (tmp_path / "data" / "secret.txt").write_text("outside")
        base = f"/api/jobs/{job['id']}/files/"
        for name in TRAVERSALS:
            status, body = raw_get(client.app, base + name)
            assert status == 404, (name, status, body[:200])
            assert b"not listed" not in body and b"outside" not in body
        status, body = raw_get(client.app, base + "music.mid")
        assert status == 200 and body[:4] == b"MThd"


def test_job_ids_are_long_random_and_a_near_miss_is_404(tmp_path: Path) -> None:
    with serving(tmp_path, workers=1, queue_limit=40) as client:
        ids = [client.post("/api/generate", json=LONG).json()["id"] for _ in range(12)]
        assert len(set(ids)) == len(ids) and all(ID.fullmatch(i) for i in ids)
        assert len({i[:4] for i in ids}) > 6  # no common prefix, no counter
        near = ids[0][:-1] + ("A" if ids[0][-1] != "A" else "B")
        is_error(client.get(f"/api/jobs/{near}"), 404)
        is_error(client.delete(f"/api/jobs/{near}"), 404)


def test_posts_beyond_the_rate_are_429_with_retry_after(tmp_path: Path) -> None:
    with serving(tmp_path, workers=1, queue_limit=10, rate=2) as client:
        assert client.post("/api/generate", json=LONG).status_code == 202
        assert client.post("/api/generate", json={"mood": "zzz"}).status_code == 400  # a bad one counts too
        limited = client.post("/api/generate", json=LONG)
        assert "too many" in is_error(limited, 429)
        assert 1 <= int(limited.headers["retry-after"]) <= 30
        assert client.get("/api/models").status_code == 200  # reading is not limited
        assert client.get("/api/health").status_code == 200


def test_api_keys_are_required_when_configured(tmp_path: Path) -> None:
    with serving(tmp_path, workers=1, api_keys=frozenset({"key-one", "key-two"}), rate=1) as client:
        answer = client.get("/api/models")
        assert "API key" in is_error(answer, 401) and answer.headers["www-authenticate"] == "Bearer"
        is_error(client.get("/api/models", headers={"Authorization": "Bearer key-three"}), 401)
        is_error(client.post("/api/generate", json=SMALL, headers={"X-API-Key": "wrong"}), 401)
        is_error(client.get("/api/jobs/AAAAAAAAAAAAAAAAAAAAAAAA"), 401)  # before saying whether it exists
        assert client.get("/api/models", headers={"Authorization": "Bearer key-one"}).status_code == 200
        assert client.get("/api/health").status_code == 200
        assert client.get("/openapi.json").status_code == 200
        # the rate is per key: each key has its own bucket
        assert client.post("/api/generate", json=LONG, headers={"X-API-Key": "key-one"}).status_code == 202
        is_error(client.post("/api/generate", json=LONG, headers={"X-API-Key": "key-one"}), 429)
        assert client.post("/api/generate", json=LONG, headers={"X-API-Key": "key-two"}).status_code == 202


def test_a_key_sent_to_an_open_server_does_not_make_a_new_client(tmp_path: Path) -> None:
    with serving(tmp_path, workers=1, queue_limit=10, rate=1) as client:
        assert client.post("/api/generate", json=LONG, headers={"X-API-Key": "a"}).status_code == 202
        is_error(client.post("/api/generate", json=LONG, headers={"X-API-Key": "b"}), 429)


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"workers": 0}, "--workers"),
        ({"queue_limit": -1}, "--queue-limit"),
        ({"port": 70000}, "--port"),
        ({"keep_seconds": 0}, "keep"),
        ({"keep_seconds": float("nan")}, "keep"),
        ({"api_keys": frozenset({"has space"})}, "API key"),
    ],
)
def test_settings_refuse_what_cannot_work(settings: dict, names: str) -> None:
    with pytest.raises(InvalidArgumentError, match=names):
        Settings(**settings)


def test_api_key_files_are_read_one_key_a_line(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("# studio keys\nkey-one\n\n  key-two  \n")
    assert read_api_keys(keys) == {"key-one", "key-two"}
    keys.write_text("# nothing\n")
    with pytest.raises(InputFileError, match="no API key"):
        read_api_keys(keys)
    with pytest.raises(InputFileError, match="cannot be read"):
        read_api_keys(tmp_path / "missing.txt")


def test_a_summary_is_plain_json_whatever_a_work_function_returns() -> None:
    from cadenza.service.jobs import _plain

    summary = {"share": float("nan"), "ratio": float("inf"), "bars": (1, 2), "path": Path("x"), 3: True}
    assert _plain(summary) == {"share": None, "ratio": None, "bars": [1, 2], "path": "x", "3": True}


def test_a_job_over_the_time_limit_is_stopped_and_fails(tmp_path: Path) -> None:
    with serving(tmp_path, workers=1, job_seconds=1.0) as client:
        job = client.post("/api/generate?wait=20", json=LONG).json()
        assert job["status"] == "failed" and "longer than 1 s" in job["error"], job
        assert job["files"] == []


def test_wait_answers_202_while_the_job_still_runs(tmp_path: Path) -> None:
    with serving(tmp_path, workers=1) as client:
        answer = client.post("/api/generate?wait=0.3", json=LONG)
        assert answer.status_code == 202 and answer.json()["status"] in ("queued", "running")


def test_a_failure_message_does_not_show_the_servers_folders(tmp_path: Path) -> None:
    from cadenza.service.jobs import _clean

    folder = tmp_path / "data" / "jobs" / ("a" * 24)
    message = f"{folder / 'input' / 'upload.mid'}: not a MIDI file; {folder / 'out' / 'music.wav'} not written"
    assert _clean(message, folder) == "upload.mid: not a MIDI file; music.wav not written"


def test_inputs_are_saved_in_the_jobs_folder_under_safe_names_only(tmp_path: Path) -> None:
    from cadenza.service.jobs import Engine

    engine = Engine(Settings(data_dir=tmp_path), ["generate"])  # not started: nothing runs
    status = engine.submit("generate", {}, {"upload.mid": b"MThd", "upload.provenance.json": b"{}"})
    assert (tmp_path / "jobs" / status["id"] / "input" / "upload.mid").read_bytes() == b"MThd"
    assert (tmp_path / "jobs" / status["id"] / "input" / "upload.provenance.json").read_bytes() == b"{}"
    for name in ("../x.mid", "/etc/x", "a/b.mid", ".hidden", "Upload.MID", "x..mid", ""):
        with pytest.raises(ValueError, match="not a safe input name"):
            engine.submit("generate", {}, {name: b""})
    with pytest.raises(InvalidArgumentError, match="unknown kind"):
        engine.submit("nothing", {})
    assert len(list((tmp_path / "jobs").iterdir())) == 1


def _hold_streams(app: object, path: str, clients: list[str]) -> list[int]:
    """Open one event stream per entry of ``clients`` (an address each), one after the
    other, all held open until the last has its answer; the status codes of each."""
    import anyio

    statuses: list[int] = []

    async def main() -> None:
        gone = anyio.Event()

        async def one(host: str, started: anyio.Event) -> None:
            asked = False

            async def receive() -> dict:
                nonlocal asked
                if not asked:
                    asked = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                await gone.wait()
                return {"type": "http.disconnect"}

            async def send(message: dict) -> None:
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])
                    started.set()

            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "root_path": "",
                "query_string": b"",
                "headers": [(b"host", b"testserver")],
                "client": (host, 1234),
                "server": ("testserver", 80),
            }
            await app(scope, receive, send)  # type: ignore[operator]

        async with anyio.create_task_group() as group:
            for host in clients:
                started = anyio.Event()
                group.start_soon(one, host, started)
                with anyio.fail_after(10):
                    await started.wait()
            gone.set()

    anyio.run(main)
    return statuses


def test_event_streams_are_bounded_per_client_and_in_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many clients holding a queued job's stream open cannot pile up polling loops:
    past the limits a stream is a 429, and a closed one frees its place."""
    from cadenza.service import limits
    from cadenza.service.app import create_app

    app = create_app(Settings(data_dir=tmp_path / "data", rate=0))  # no workers: the job stays queued
    job = app.state.engine.submit("generate", SMALL)
    path = f"/api/jobs/{job['id']}/events"
    per_client = limits.MAX_STREAMS_PER_CLIENT
    statuses = _hold_streams(app, path, ["10.0.0.1"] * (per_client + 1) + ["10.0.0.2"])
    assert statuses == [200] * per_client + [429, 200]
    assert _hold_streams(app, path, ["10.0.0.1"] * per_client) == [200] * per_client  # freed when they closed

    monkeypatch.setattr(limits, "MAX_STREAMS", 3)
    assert _hold_streams(app, path, [f"10.0.1.{n}" for n in range(4)]) == [200, 200, 200, 429]


def test_guessing_api_keys_is_slowed_to_a_few_a_minute(tmp_path: Path) -> None:
    """Wrong keys from one address are limited (429) whatever --rate says: a short key
    cannot be guessed at the speed of the network; the right key still gets in."""
    from fastapi.testclient import TestClient

    from cadenza.service import limits
    from cadenza.service.app import create_app

    client = TestClient(create_app(Settings(data_dir=tmp_path / "data", api_keys=frozenset({"k1"}), rate=0)))
    for n in range(limits.KEY_GUESSES):
        is_error(client.get("/api/models", headers={"X-API-Key": f"guess-{n}"}), 401)
    answer = client.get("/api/models", headers={"X-API-Key": "one-more-guess"})
    assert "API key" in is_error(answer, 429) and int(answer.headers["retry-after"]) >= 1
    assert client.get("/api/models", headers={"X-API-Key": "k1"}).status_code == 200


def test_the_results_kept_are_bounded_in_bytes_oldest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients cannot fill the disk with results kept an hour each: past the server's
    room for results, the oldest finished jobs expire early (the newest is always kept)."""
    from cadenza.service import jobs

    monkeypatch.setattr(jobs, "KEEP_BYTES", 1, raising=False)
    with serving(tmp_path, workers=1) as client:
        first = finished(client, client.post("/api/generate?wait=30", json=SMALL))
        assert first["status"] == "done"
        folder = tmp_path / "data" / "jobs" / first["id"]
        second = finished(client, client.post("/api/generate?wait=30", json={**SMALL, "seed": 2}))
        assert second["status"] == "done"
        deadline = time.monotonic() + 10
        while client.get(f"/api/jobs/{first['id']}").status_code == 200:
            assert time.monotonic() < deadline, "the older job was kept"
            time.sleep(0.1)
        assert not folder.exists()
        assert client.get(second["files"][0]["url"]).status_code == 200
