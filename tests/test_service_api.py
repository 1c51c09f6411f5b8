"""``cadenza serve``'s API in-process: every endpoint of the core, and bad input on each
(one JSON error with the right status). Real worker processes, the fast Markov model."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import symusic
from fastapi.testclient import TestClient

from cadenza import __version__
from cadenza.provenance.signing import verify_file
from cadenza.service import app as app_module
from cadenza.service.app import create_app
from cadenza.service.settings import Settings
from tests.service_helpers import SMALL, finished, is_error, serving


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with serving(tmp_path_factory.mktemp("serve"), workers=2, max_upload_bytes=64 * 1024) as running:
        yield running


@pytest.fixture(scope="module")
def small_job(client: TestClient) -> dict:
    return finished(client, client.post("/api/generate?wait=30", json=SMALL))


def test_health_is_ok_with_the_version(client: TestClient) -> None:
    assert client.get("/api/health").json() == {"status": "ok", "version": __version__}


def test_models_lists_the_shipped_ones_with_one_default(client: TestClient) -> None:
    models = client.get("/api/models").json()["models"]
    names = {m["name"]: m for m in models}
    assert {"cadenza-markov", "cadenza-multitrack"} <= set(names)
    assert sum(m["default"] for m in models) == 1
    assert names["cadenza-markov"]["family"] == "markov" and names["cadenza-markov"]["description"]


def test_generate_waits_and_answers_the_finished_job(small_job: dict) -> None:
    assert small_job["status"] == "done", small_job
    assert small_job["kind"] == "generate" and small_job["error"] is None and small_job["position"] is None
    names = {f["name"] for f in small_job["files"]}
    assert {"music.mid", "record.json", "music.musicxml", "pianoroll.png", "originality.json"} <= names
    assert "music.wav" not in names  # wav: false
    summary = small_job["summary"]
    assert summary["bars"] == 2 and summary["model"] == "cadenza-markov" and summary["seed"] == 1
    assert summary["originality"]["verdict"] in ("original", "flagged")
    provenance = summary["provenance"]
    assert provenance["model"] == "cadenza-markov" and len(provenance["music_sha256"]) == 64
    assert provenance["signer"] and provenance["key_id"]
    assert {"name": "pop909", "licence": "MIT"} in provenance["training_sources"]
    assert small_job["expires"] > small_job["finished"] >= small_job["created"]
    assert small_job["progress"]["done"] == small_job["progress"]["total"] > 0


def test_the_midi_downloads_parses_and_its_record_verifies(client: TestClient, small_job: dict, tmp_path: Path) -> None:
    urls = {f["name"]: f for f in small_job["files"]}
    midi = client.get(urls["music.mid"]["url"])
    assert midi.status_code == 200 and midi.headers["content-type"] == "audio/midi"
    assert midi.headers["content-disposition"].startswith("attachment")
    assert len(midi.content) == urls["music.mid"]["bytes"]
    score = symusic.Score.from_midi(midi.content)
    assert sum(len(track.notes) for track in score.tracks) > 0
    (tmp_path / "music.mid").write_bytes(midi.content)
    (tmp_path / "music.mid.provenance.json").write_bytes(client.get(urls["record.json"]["url"]).content)
    assert verify_file(tmp_path / "music.mid").intact


def test_a_file_is_inline_when_asked(client: TestClient, small_job: dict) -> None:
    roll = next(f for f in small_job["files"] if f["name"] == "pianoroll.png")
    answer = client.get(roll["url"] + "?inline=1")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.headers["content-disposition"].startswith("inline") and answer.content[:4] == b"\x89PNG"


def test_the_same_seed_gives_the_same_notes(client: TestClient, small_job: dict) -> None:
    again = finished(client, client.post("/api/generate?wait=30", json=SMALL))
    assert again["status"] == "done" and again["id"] != small_job["id"]

    def notes(job: dict) -> list:
        data = client.get(f"/api/jobs/{job['id']}/files/music.mid").content
        return [(n.time, n.pitch, n.duration) for t in symusic.Score.from_midi(data).tracks for n in t.notes]

    assert notes(again) == notes(small_job)


def test_without_wait_the_answer_is_202_and_the_job_can_be_read(client: TestClient) -> None:
    answer = client.post("/api/generate", json=SMALL)
    assert answer.status_code == 202
    job = answer.json()
    assert job["status"] in ("queued", "running") and job["finished"] is None and job["expires"] is None
    assert answer.headers["location"] == f"/api/jobs/{job['id']}"
    assert client.get(f"/api/jobs/{job['id']}").json()["id"] == job["id"]


def test_events_stream_each_change_until_the_end(client: TestClient) -> None:
    job = client.post("/api/generate", json=SMALL).json()
    seen = []
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: ") :]))
    states = [s["status"] for s in seen]
    assert states[-1] == "done" and states.count("done") == 1
    assert states == sorted(states, key=["queued", "running", "done"].index)  # never backwards
    assert all(s["id"] == job["id"] for s in seen)


def test_cancelling_a_finished_job_leaves_it_done(client: TestClient, small_job: dict) -> None:
    answer = client.delete(f"/api/jobs/{small_job['id']}")
    assert answer.status_code == 200 and answer.json()["status"] == "done"


@pytest.mark.slow
def test_a_prompt_composes_a_cue_with_stems(client: TestClient) -> None:
    body = {"prompt": "calm piano loop, 6 seconds", "stems": True, "seed": 2}
    job = finished(client, client.post("/api/generate?wait=30", json=body))
    assert job["status"] == "done", job
    names = {f["name"] for f in job["files"]}
    assert {"music.mid", "music.wav", "record.json", "cue-sheet.json", "pianoroll.png"} <= names
    assert any(n.startswith("stem-") for n in names)
    assert job["summary"]["model"] == "cadenza-multitrack" and job["summary"]["loop"] is True
    assert job["summary"]["seconds"] == 6


@pytest.mark.slow
def test_soundtrack_composes_a_cue_sheet(client: TestClient) -> None:
    cue = {"seconds": 6, "tempo": 100, "sections": [{"name": "calm", "mood": "calm"}]}
    job = finished(client, client.post("/api/soundtrack?wait=30", json={"cue": cue, "wav": False}))
    assert job["status"] == "done", job
    sheet = client.get(f"/api/jobs/{job['id']}/files/cue-sheet.json").json()
    assert sheet and {f["name"] for f in job["files"]} >= {"music.mid", "cue-sheet.json", "record.json"}
    assert job["summary"]["sections"] == ["calm"]


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ('{"bars": 4', "JSON"),
        ("[1, 2]", "body"),
        ('{"tempo": "fast"}', "tempo"),
        ('{"tempo": 1000}', "tempo"),
        ('{"seed": -1}', "seed"),
        ('{"bars": 0}', "bars"),
        ('{"seconds": 100000}', "seconds"),
        ('{"instruments": "piano"}', "instruments"),
        ('{"colour": "red"}', "colour"),
        ('{"mood": "zzz"}', "mood"),
        ('{"key": "H sharp"}', "H sharp"),
        ('{"bars": 4, "seconds": 10}', "bars or seconds"),
        ('{"model": "/etc"}', "model"),
        ('{"model": "../pretrained/cadenza-markov"}', "model"),
        ('{"bars": 256, "tempo": 30}', "s of music"),
        ('{"prompt": ""}', "prompt"),
        ('{"prompt": "x", "meter": "13/7"}', "meter"),
        ('{"seconds": 1e308}', "seconds"),
        ('{"tempo": NaN}', "tempo"),
        ('{"seconds": Infinity}', "seconds"),
        ('{"bars": 1000000000}', "bars"),
        ('{"seed": 1' + "0" * 5000 + "}", "body"),
        ('{"instruments": ' + "[" * 30_000 + "]" * 30_000 + "}", "body"),
        ('{"prompt": "' + "x" * 5000 + '"}', "prompt"),
    ],
)
def test_bad_generate_requests_are_one_line_400(client: TestClient, body: str, names: str) -> None:
    answer = client.post("/api/generate", content=body, headers={"content-type": "application/json"})
    assert names.lower() in is_error(answer, 400).lower()


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({}, "cue"),
        ({"cue": []}, "cue"),
        ({"cue": {"seconds": -3}}, "cue.seconds"),
        ({"cue": {"sections": [{"name": "a", "mood": "weird"}]}}, "mood"),
        ({"cue": {"seconds": 10}, "model": "nope"}, "model"),
        ({"cue": {"seconds": 10}, "seed": "one"}, "seed"),
        ({"cue": {"seconds": 1e308}}, "cue.seconds"),
        ({"cue": {"sections": [{"name": f"s{i}", "bars": 1000} for i in range(100)]}}, "bars"),
        ({"cue": {"sections": [{"name": f"s{i}"} for i in range(1000)]}}, "cue.sections"),
        ({"cue": {"seconds": 30, "hits": [{"at": 1.0}] * 1000}}, "cue.hits"),
    ],
)
def test_bad_soundtrack_requests_are_one_line_400(client: TestClient, body: dict, names: str) -> None:
    assert names in is_error(client.post("/api/soundtrack", json=body), 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_body_that_is_not_a_json_object_says_what_to_send(client: TestClient, content_type: str) -> None:
    answer = client.post("/api/generate", content=b"bars=2", headers={"content-type": content_type})
    assert "JSON object" in is_error(answer, 400)


def test_wait_outside_0_to_30_is_400(client: TestClient) -> None:
    assert "wait" in is_error(client.post("/api/generate?wait=31", json=SMALL), 400)
    assert "wait" in is_error(client.post("/api/generate?wait=-1", json=SMALL), 400)


UNKNOWN_JOB = [("GET", ""), ("DELETE", ""), ("GET", "/events"), ("GET", "/files/a.mid")]


@pytest.mark.parametrize(("method", "suffix"), UNKNOWN_JOB)
def test_an_unknown_job_is_404(client: TestClient, method: str, suffix: str) -> None:
    is_error(client.request(method, f"/api/jobs/AAAAAAAAAAAAAAAAAAAAAAAA{suffix}"), 404)


def test_an_unknown_file_of_a_real_job_is_404(client: TestClient, small_job: dict) -> None:
    is_error(client.get(f"/api/jobs/{small_job['id']}/files/music.wav"), 404)  # not made: wav false
    is_error(client.get(f"/api/jobs/{small_job['id']}/files/nothing.txt"), 404)


def test_unknown_paths_and_methods_are_json_errors(client: TestClient) -> None:
    is_error(client.get("/api/nothing"), 404)
    is_error(client.put("/api/generate", json=SMALL), 405)


def test_a_body_over_the_limit_is_413(client: TestClient) -> None:
    big = json.dumps({"prompt": "x" * 200_000})
    is_error(client.post("/api/generate", content=big, headers={"content-type": "application/json"}), 413)


def test_a_content_length_of_thousands_of_digits_is_413_not_a_crash(client: TestClient) -> None:
    headers = {"content-type": "application/json", "content-length": "9" * 5000}
    is_error(client.post("/api/generate", content=b"{}", headers=headers), 413)


def test_answers_carry_nosniff(client: TestClient) -> None:
    assert client.get("/api/health").headers["x-content-type-options"] == "nosniff"


def test_the_page_and_the_files_carry_a_content_security_policy(client: TestClient, small_job: dict) -> None:
    """Should anything from a client ever reach the page as markup, it cannot run: scripts
    only from the server itself, nothing inline; a result file opened in the browser
    (a MusicXML is XML a browser renders) is sandboxed and may load nothing."""
    policy = client.get("/").headers["content-security-policy"]
    rules = dict(rule.strip().split(" ", 1) for rule in policy.split(";") if rule.strip())
    assert rules["default-src"] == "'self'" and "unsafe" not in policy
    assert rules["object-src"] == "'none'" and rules["frame-ancestors"] == "'none'"
    for entry in small_job["files"]:
        answer = client.get(entry["url"] + "?inline=1")
        assert answer.status_code == 200
        rules = answer.headers["content-security-policy"].replace(" ", "").split(";")
        assert "default-src'none'" in rules and "sandbox" in rules, entry["name"]


def test_the_openapi_spec_has_every_endpoint_and_its_errors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/health", "/api/models", "/api/generate", "/api/soundtrack", "/api/jobs/{job_id}"):
        assert path in paths
    assert {"/api/jobs/{job_id}/events", "/api/jobs/{job_id}/files/{name}"} <= set(paths)
    generate = paths["/api/generate"]["post"]["responses"]
    assert {"202", "400", "429", "503"} <= set(generate)
    assert "404" in paths["/api/jobs/{job_id}"]["get"]["responses"]
    assert "delete" in paths["/api/jobs/{job_id}"]


def test_an_unexpected_error_is_500_internal_error_without_a_trace(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))

    @app.get("/api/broken")
    def broken() -> None:
        raise RuntimeError("secret detail /home/someone")

    answer = TestClient(app, raise_server_exceptions=False).get("/api/broken")
    assert is_error(answer, 500) == "internal error"


def test_the_page_and_its_assets_are_served_when_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>cadenza</title>")
    (tmp_path / "style.css").write_text("body{}")
    monkeypatch.setattr(app_module, "STATIC", tmp_path)
    client = TestClient(create_app(Settings(data_dir=tmp_path / "data", api_keys=frozenset({"k"}))))
    page = client.get("/")
    assert page.status_code == 200 and "cadenza" in page.text and page.headers["content-type"].startswith("text/html")
    assert client.get("/static/style.css").text == "body{}"  # open, though keys are configured
    is_error(client.get("/static/nothing.css"), 404)
    is_error(client.get("/static/../app.py"), 404)


def test_without_a_page_the_root_is_a_json_404(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "STATIC", tmp_path / "none")
    is_error(TestClient(create_app(Settings(data_dir=tmp_path))).get("/"), 404)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_cadenza_serve_answers_over_http_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    keys = tmp_path / "keys.txt"
    keys.write_text("studio-key\n")
    command = [sys.executable, "-m", "cadenza.cli", "serve", "--port", str(port), "--workers", "1"]
    command += ["--data-dir", str(tmp_path / "data"), "--api-key-file", str(keys), "--keep-minutes", "5"]
    env = {**os.environ, "CADENZA_HOME": str(tmp_path / "home")}
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"{base}/api/health", timeout=2).json()["status"] == "ok"
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert httpx.get(f"{base}/api/models", timeout=5).status_code == 401
        answer = httpx.post(
            f"{base}/api/generate?wait=30", json=SMALL, headers={"Authorization": "Bearer studio-key"}, timeout=40
        )
        assert answer.status_code == 200 and answer.json()["status"] == "done", answer.text
        assert (tmp_path / "data" / "jobs" / answer.json()["id"] / "out" / "music.mid").is_file()
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("arguments", "names"),
    [(["--workers", "0"], "--workers 0"), (["--api-key-file", "missing-keys.txt"], "missing-keys.txt")],
)
def test_cadenza_serve_refuses_bad_settings_in_one_line(arguments: list[str], names: str) -> None:
    from typer.testing import CliRunner

    from cadenza.cli import app

    result = CliRunner().invoke(app, ["serve", *arguments])
    assert result.exit_code == 2
    assert names in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "body",
    [{"prompt": "calm piano, 6 seconds", "model": "cadenza-markov"}, {"loop": True, "model": "cadenza-gan"}],
)
def test_a_cue_with_a_model_that_cannot_follow_one_is_400(client: TestClient, body: dict) -> None:
    assert "multitrack" in is_error(client.post("/api/generate", json=body), 400)


def test_a_previous_runs_job_folders_are_cleared_at_start(tmp_path: Path) -> None:
    stale = tmp_path / "data" / "jobs" / ("x" * 24)
    (stale / "out").mkdir(parents=True)
    mine = tmp_path / "data" / "jobs" / "notes.txt"
    mine.write_text("not a job")
    with serving(tmp_path, workers=1) as running:
        assert running.get("/api/health").status_code == 200
        assert not stale.exists() and mine.exists()


def test_cadenza_serve_refuses_a_port_in_use_and_a_folder_it_cannot_make_in_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cadenza.cli import app

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = CliRunner().invoke(app, ["serve", "--port", port, "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 2, result.output
    assert port in result.output and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(app, ["serve", "--port", "0", "--data-dir", str(blocker / "data")])
    assert result.exit_code == 2, result.output
    assert "a-file" in result.output and len(result.output.strip().splitlines()) == 1

    result = CliRunner().invoke(app, ["serve", "--keep-minutes", "-1"])
    assert result.exit_code == 2 and "--keep-minutes -1" in result.output, result.output
    result = CliRunner().invoke(app, ["serve", "--max-upload-mb", "0"])
    assert result.exit_code == 2 and "--max-upload-mb 0 is outside" in result.output, result.output


@pytest.mark.slow
def test_cadenza_serve_does_not_trust_x_forwarded_for(tmp_path: Path) -> None:
    """A client on loopback (or behind anything) must not pick its own address for the
    rate limit: uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told not to."""
    port = _free_port()
    command = [sys.executable, "-m", "cadenza.cli", "serve", "--port", str(port), "--workers", "1", "--rate", "2"]
    command += ["--data-dir", str(tmp_path / "data"), "--max-upload-mb", "0.01"]
    env = {**os.environ, "CADENZA_HOME": str(tmp_path / "home")}
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        big = httpx.post(f"{base}/api/generate", json={"prompt": "x" * 100_000}, timeout=10)
        assert big.status_code == 413 and "76,021 bytes" in big.json()["error"]  # 0.01 MiB and the form's room
        codes = [
            httpx.post(
                f"{base}/api/generate", json={"bars": 0}, headers={"X-Forwarded-For": f"10.0.0.{n}"}, timeout=10
            ).status_code
            for n in range(3)
        ]
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    assert codes == [400, 400, 429], codes
    assert server.returncode == 0 and "Traceback" not in output, output


def test_the_pages_fields_accept_what_the_api_accepts() -> None:
    """A value the page lets through is one the API takes: no 400 for a prompt the text
    box allowed, or a length its arrows reach."""
    from html.parser import HTMLParser

    from cadenza.service.routes import GenerateRequest

    fields: dict[str, dict[str, str | None]] = {}

    class Fields(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found = dict(attrs)
            if found.get("id") in ("prompt", "tempo", "seconds"):
                fields[str(found["id"])] = found

    Fields().feed((app_module.STATIC / "index.html").read_text(encoding="utf-8"))

    def bounds(name: str) -> dict[str, float]:
        found: dict[str, float] = {}
        for rule in GenerateRequest.model_fields[name].metadata:
            for attribute in ("ge", "le", "max_length"):
                if getattr(rule, attribute, None) is not None:
                    found[attribute] = getattr(rule, attribute)
        return found

    assert int(str(fields["prompt"]["maxlength"])) == bounds("prompt")["max_length"]
    for name in ("tempo", "seconds"):
        assert float(str(fields[name]["min"])) == bounds(name)["ge"], name
        assert float(str(fields[name]["max"])) == bounds(name)["le"], name
