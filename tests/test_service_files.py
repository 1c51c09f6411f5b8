"""`cadenza serve` with a user's file: the composer tasks, analyze, originality and verify.

The work functions are called as a worker calls them (a job folder, a progress
callback); the endpoints through FastAPI's TestClient with real worker processes. Every
sketch is made here, by hand; every hostile upload too.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import symusic
from fastapi.testclient import TestClient

from cadenza.errors import CadenzaError, LimitExceededError
from cadenza.io import load_score
from cadenza.service.work_sketch import WORK
from tests.service_helpers import finished, is_error, serving

TPQ = 480
BAR = 4 * TPQ
TUNE = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 67, 65, 64]  # 4 bars of quarters, C major
BASS = [36, 43, 41, 43]  # a whole note a bar

Notes = dict[str, list[tuple[int, int, int]]]


def sketch_score(bass: bool = True) -> symusic.Score:
    """A 4-bar tune in C major at 100 bpm in 4/4 (and a bass under it)."""
    score = symusic.Score(TPQ)
    score.tempos.append(symusic.Tempo(0, qpm=100.0))
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    melody = symusic.Track(name="Melody", program=0)
    for i, pitch in enumerate(TUNE):
        melody.notes.append(symusic.Note(i * TPQ, TPQ, pitch, 90))
    score.tracks.append(melody)
    if bass:
        low = symusic.Track(name="Bass", program=33)
        for i, pitch in enumerate(BASS):
            low.notes.append(symusic.Note(i * BAR, BAR, pitch, 80))
        score.tracks.append(low)
    return score


def sketch_bytes(bass: bool = True) -> bytes:
    return bytes(sketch_score(bass).dumps_midi())


def notes_of(source: Path | bytes) -> Notes:
    """(start, duration, pitch) of each track's notes, by track name."""
    score = symusic.Score.from_midi(source) if isinstance(source, bytes) else symusic.Score(source)
    return {t.name: sorted((n.time, n.duration, n.pitch) for n in t.notes) for t in score.tracks}


def in_bars(notes: list[tuple[int, int, int]], bars: set[int]) -> list[tuple[int, int, int]]:
    """The notes that start in ``bars`` (counted from 1)."""
    return [n for n in notes if n[0] // BAR + 1 in bars]


def job_folder(tmp_path: Path, data: bytes, suffix: str = ".mid") -> Path:
    folder = tmp_path / "job"
    (folder / "input").mkdir(parents=True)
    (folder / "out").mkdir()
    (folder / "input" / f"upload{suffix}").write_bytes(data)
    return folder


def run(kind: str, folder: Path, suffix: str = ".mid", **options: object) -> dict:
    steps: list[tuple[int, int]] = []
    summary = WORK[kind](
        {**options, "upload": f"upload{suffix}"}, folder, lambda done, total: steps.append((done, total))
    )
    assert steps and steps[-1][0] == steps[-1][1]  # the progress ends complete
    json.dumps(summary)  # the summary is JSON as it is
    return summary


def out_files(folder: Path) -> set[str]:
    return {p.name for p in (folder / "out").iterdir()}


# ----------------------------------------------------------------------------- hostile files
def midi_52_bytes_of_hours() -> bytes:
    """52 bytes: one note held three hours at 120 bpm, a length the command line accepts
    (under four hours) and a server would render, analyse and count bars of for minutes."""
    ticks = 3 * 3600 * 2 * TPQ  # three hours of quarters at 120 bpm

    def vlq(value: int) -> bytes:
        out = [value & 0x7F]
        value >>= 7
        while value:
            out.append(0x80 | (value & 0x7F))
            value >>= 7
        return bytes(reversed(out))

    events = (
        b"\x00\xff\x58\x04\x04\x02\x18\x08"  # 4/4
        + b"\x00\xff\x51\x03\x07\xa1\x20"  # 120 bpm
        + b"\x00\x90\x3c\x40"
        + vlq(ticks)
        + b"\x80\x3c\x00"
        + b"\x00\xff\x2f\x00"
    )
    data = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TPQ) + b"MTrk" + struct.pack(">I", len(events)) + events
    assert len(data) == 52
    return data


def mxl_bomb(unpacked_mb: int = 40) -> bytes:
    """A .mxl archive a few tens of KB long whose score unpacks to ``unpacked_mb`` MB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(
            "META-INF/container.xml", '<container><rootfiles><rootfile full-path="score.xml"/></rootfiles></container>'
        )
        with archive.open("score.xml", "w") as member:
            member.write(b'<?xml version="1.0"?><score-partwise>')
            block = b" " * (1 << 20)
            for _ in range(unpacked_mb):
                member.write(block)
            member.write(b"</score-partwise>")
    return buffer.getvalue()


# ----------------------------------------------------------------------------- work functions
def test_continue_adds_bars_and_keeps_every_note_of_the_sketch(tmp_path: Path) -> None:
    folder = job_folder(tmp_path, sketch_bytes())
    summary = run("continue", folder, bars=2, wav=False)
    assert {"music.mid", "record.json", "music.musicxml", "pianoroll.png", "before.mid", "before.png"} <= out_files(
        folder
    )
    assert "originality.json" in out_files(folder) and "music.wav" not in out_files(folder)
    before, after = notes_of(sketch_bytes()), notes_of(folder / "out" / "music.mid")
    for name, notes in before.items():
        assert in_bars(after[name], {1, 2, 3, 4}) == notes  # the user's four bars, note for note
    assert in_bars(after["Melody"], {5, 6})  # and the tune goes on
    assert summary["bars"] == {"before": 4, "after": 6} and summary["key"] == "C major"
    assert summary["generated_notes"] > 0 and "the rest is yours" in summary["changed"]
    assert summary["originality"]["verdict"] in ("original", "flagged")
    assert summary["provenance"]["model"] == "cadenza-multitrack" and summary["provenance"]["key_id"]
    assert notes_of(folder / "out" / "before.mid") == before  # the sketch as it was read
    record = json.loads((folder / "out" / "record.json").read_text())
    assert record["conditions"]["task"] == "continue" and record["conditions"]["source"]["file"] == "upload.mid"


def test_infill_rewrites_only_the_bars_asked(tmp_path: Path) -> None:
    folder = job_folder(tmp_path, sketch_bytes())
    summary = run("infill", folder, bars="2-3", tracks="Melody", seed=4, wav=False)
    before, after = notes_of(sketch_bytes()), notes_of(folder / "out" / "music.mid")
    assert after["Bass"] == before["Bass"]
    assert in_bars(after["Melody"], {1, 4}) == in_bars(before["Melody"], {1, 4})
    assert summary["generated"] == [{"track": 1, "name": "Melody", "bars": ["2-3"], "new": False}]


def test_harmonize_and_accompany_keep_the_tune(tmp_path: Path) -> None:
    for kind, options, new in (
        ("harmonize", {"style": "chorale"}, ["Alto", "Tenor", "Bass"]),
        ("accompany", {"instruments": "piano,bass"}, ["piano", "bass"]),
    ):
        folder = job_folder(tmp_path / kind, sketch_bytes(bass=False))
        summary = run(kind, folder, wav=False, **options)
        after = notes_of(folder / "out" / "music.mid")
        assert after["Melody"] == notes_of(sketch_bytes(bass=False))["Melody"]
        assert [g["name"] for g in summary["generated"]] == new and all(after[name] for name in new)


def test_vary_rewrites_only_the_bars_it_reports(tmp_path: Path) -> None:
    folder = job_folder(tmp_path, sketch_bytes())
    summary = run("vary", folder, amount=0.5, seed=2, wav=False)
    before, after = notes_of(sketch_bytes()), notes_of(folder / "out" / "music.mid")
    changed: dict[str, set[int]] = {}
    for g in summary["generated"]:
        for span in g["bars"]:
            first, _, last = span.partition("-")
            changed.setdefault(g["name"], set()).update(range(int(first), int(last or first) + 1))
    assert changed  # half of the bars that play
    for name, notes in before.items():
        kept = {1, 2, 3, 4} - changed.get(name, set())
        assert in_bars(after[name], kept) == in_bars(notes, kept)


def test_arrange_gives_every_note_to_a_part_and_renders_audio(tmp_path: Path) -> None:
    folder = job_folder(tmp_path, sketch_bytes())
    summary = run("arrange", folder, instruments="violin,cello")
    assert "music.wav" in out_files(folder) and "originality.json" not in out_files(folder)
    before, after = notes_of(sketch_bytes()), notes_of(folder / "out" / "music.mid")
    assert sorted((t, p) for notes in after.values() for t, _, p in notes) == sorted(
        (t, p) for notes in before.values() for t, _, p in notes
    )
    assert summary["model"] is None and summary["originality"]["verdict"] == "unchecked"
    assert summary["originality"]["reason"] == "nothing was composed: every note is the user's"
    assert summary["provenance"]["model"] is None and summary["provenance"]["signer"]


def test_analyze_names_the_key(tmp_path: Path) -> None:
    folder = job_folder(tmp_path, sketch_bytes())
    summary = run("analyze", folder)
    assert summary["key"][0]["label"] == "C:maj" and summary["bars"] == 4
    assert json.loads((folder / "out" / "analysis.json").read_text())["key"] == summary["key"]


def test_originality_reports_on_the_file(tmp_path: Path) -> None:
    folder = job_folder(tmp_path, sketch_bytes())
    summary = run("originality", folder, level="STRICT")
    assert summary["file"] == "upload.mid" and summary["level"] == "STRICT"
    assert isinstance(summary["flagged"], bool) and summary["fingerprints"] > 0
    assert json.loads((folder / "out" / "originality.json").read_text()) == summary


def test_verify_says_valid_for_a_record_and_invalid_once_tampered(tmp_path: Path) -> None:
    made = job_folder(tmp_path / "made", sketch_bytes())
    run("arrange", made, instruments="piano", wav=False)
    folder = job_folder(tmp_path, (made / "out" / "music.mid").read_bytes())
    shutil.copy(made / "out" / "record.json", folder / "input" / "record.json")
    summary = run("verify", folder)
    assert summary["valid"] is True and summary["message"].startswith("intact: upload.mid")
    record = json.loads((made / "out" / "record.json").read_text())
    record["conditions"]["settings"]["instruments"] = ["tuba"]
    (folder / "input" / "record.json").write_text(json.dumps(record))
    summary = run("verify", folder)
    assert summary["valid"] is False and "changed after it was signed" in summary["message"]
    assert json.loads((folder / "out" / "verify.json").read_text())["intact"] is False
    (folder / "input" / "record.json").write_text("{not json")
    with pytest.raises(CadenzaError, match=r"^record.json: is not valid JSON"):
        run("verify", folder)


def test_a_52_byte_midi_of_three_hours_is_refused_by_the_service_limits(tmp_path: Path) -> None:
    folder = job_folder(tmp_path, midi_52_bytes_of_hours())
    assert load_score(folder / "input" / "upload.mid").end() > 10_000_000  # the command line's limits accept it
    with pytest.raises(LimitExceededError, match=r"^upload.mid: ") as caught:
        run("continue", folder, bars=2)
    assert str(tmp_path) not in str(caught.value)  # no server path in the message
    assert not (folder / "out" / "music.mid").exists()


def test_a_zip_bomb_mxl_is_refused_unpacked(tmp_path: Path) -> None:
    bomb = mxl_bomb()
    assert len(bomb) < 200_000
    folder = job_folder(tmp_path, bomb, ".mxl")
    with pytest.raises(LimitExceededError, match=r"^upload.mxl: score.xml inside the archive decompresses to more"):
        run("analyze", folder, suffix=".mxl")


# ----------------------------------------------------------------------------- the endpoints
UPLOAD_CAP = 256 * 1024


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app with one real worker process, uploads capped at 256 KiB."""
    with serving(tmp_path_factory.mktemp("serve"), workers=1, max_upload_bytes=UPLOAD_CAP) as test_client:
        yield test_client


def post(
    client: TestClient,
    path: str,
    data: bytes,
    filename: str = "sketch.mid",
    options: object = None,
    record: bytes | None = None,
) -> httpx.Response:
    files = {"file": (filename, data, "application/octet-stream")}
    if record is not None:
        files["record"] = ("music.mid.provenance.json", record, "application/json")
    form = {} if options is None else {"options": options if isinstance(options, str) else json.dumps(options)}
    return client.post(f"{path}?wait=30", files=files, data=form)


def done(client: TestClient, response: httpx.Response) -> dict:
    status = finished(client, response)
    assert status["status"] == "done", status["error"]
    return status


def fetch(client: TestClient, status: dict, name: str) -> bytes:
    entry = next(f for f in status["files"] if f["name"] == name)
    response = client.get(entry["url"])
    assert response.status_code == 200
    return response.content


def kept_bars(kind: str, summary: dict) -> dict[str, set[int]]:
    """The bars of each of the sketch's tracks the task must leave as they were."""
    every = {"Melody": {1, 2, 3, 4}, "Bass": {1, 2, 3, 4}}
    for g in summary["generated"]:
        for span in g["bars"]:
            first, _, last = span.partition("-")
            every.get(g["name"], set()).difference_update(range(int(first), int(last or first) + 1))
    return every


TASK_CASES = [
    ("continue", {"bars": 2, "wav": False}, True),
    ("infill", {"bars": "2-3", "tracks": "Melody", "wav": False}, True),
    ("harmonize", {"style": "pop", "wav": False}, False),
    ("accompany", {"instruments": ["piano", "bass"], "wav": False}, False),
    ("vary", {"amount": 0.5, "seed": 1, "wav": False}, True),
    ("arrange", {"instruments": "violin,viola,cello"}, True),
]


@pytest.mark.parametrize(("kind", "options", "bass"), TASK_CASES, ids=[c[0] for c in TASK_CASES])
def test_each_task_over_http_keeps_the_sketch(client: TestClient, kind: str, options: dict, bass: bool) -> None:
    status = done(client, post(client, f"/api/tasks/{kind}", sketch_bytes(bass), options=options))
    names = {f["name"] for f in status["files"]}
    assert {"music.mid", "record.json", "before.mid", "before.png", "pianoroll.png"} <= names
    assert fetch(client, status, "before.png").startswith(b"\x89PNG")
    before = notes_of(sketch_bytes(bass))
    after = notes_of(fetch(client, status, "music.mid"))
    if kind == "arrange":  # every note given to a part: the same notes, other tracks
        assert sorted((t, p) for ns in after.values() for t, _, p in ns) == sorted(
            (t, p) for ns in before.values() for t, _, p in ns
        )
        assert "music.wav" in names
    else:
        for name, bars in kept_bars(kind, status["summary"]).items():
            if name in before:
                assert in_bars(after[name], bars) == in_bars(before[name], bars), name
        assert status["summary"]["generated_notes"] > 0
    assert status["summary"]["key"] == "C major" and status["summary"]["task"] == kind


def test_analyze_and_originality_over_http(client: TestClient) -> None:
    status = done(client, post(client, "/api/analyze", sketch_bytes()))
    assert status["summary"]["key"][0]["label"] == "C:maj"
    assert json.loads(fetch(client, status, "analysis.json"))["key"][0]["label"] == "C:maj"
    status = done(client, post(client, "/api/originality", sketch_bytes(), options={"model": "cadenza-multitrack"}))
    report = status["summary"]
    assert report["file"] == "upload.mid" and report["fingerprints"] > 0 and "flagged" in report
    assert json.loads(fetch(client, status, "originality.json")) == report


def test_verify_over_http(client: TestClient) -> None:
    options = {"instruments": "piano", "wav": False}
    made = done(client, post(client, "/api/tasks/arrange", sketch_bytes(), options=options))
    music, record = fetch(client, made, "music.mid"), fetch(client, made, "record.json")
    status = done(client, post(client, "/api/verify", music, filename="music.mid", record=record))
    assert status["summary"]["valid"] is True and status["summary"]["message"].startswith("intact")
    assert json.loads(fetch(client, status, "verify.json"))["intact"] is True
    tampered = json.loads(record)
    tampered["seed"] = 99
    forged = json.dumps(tampered).encode()
    status = done(client, post(client, "/api/verify", music, filename="music.mid", record=forged))
    assert status["summary"]["valid"] is False and "NOT intact" in status["summary"]["message"]
    other = done(client, post(client, "/api/verify", sketch_bytes(), record=record))  # another file, the same record
    assert other["summary"]["valid"] is False
    assert "record" in is_error(post(client, "/api/verify", music), 400)


def test_bad_options_are_one_400_naming_the_field(client: TestClient) -> None:
    cases = [
        ("continue", {"bars": 0}, "options.bars: "),
        ("continue", {"colour": "red"}, "options.colour: not an option"),
        ("continue", {"model": "../../etc"}, "options.model: unknown model"),
        ("vary", {"model": "cadenza-markov"}, "options.model: model cadenza-markov: a multitrack model is needed"),
        ("infill", {}, "options.bars: Field required"),
        ("infill", {"bars": "9-2"}, "options.bars: --bars"),
        ("accompany", {"instruments": "piano,kazoo"}, "options.instruments: "),
        ("vary", {"amount": 2}, "options.amount: "),
        ("harmonize", {"style": "jazz"}, "options.style: "),
        ("continue", "not json", "options: is not valid JSON"),
        ("continue", "[" * 50_000, "options: is not valid JSON: it nests too deeply"),
        ("continue", '{"temperature": NaN}', "options.temperature: Input should be a finite number"),
        ("continue", "[1, 2]", "options: must be a JSON object"),
    ]
    for kind, options, expected in cases:
        assert is_error(post(client, f"/api/tasks/{kind}", sketch_bytes(), options=options), 400).startswith(expected)
    assert "task" in is_error(post(client, "/api/tasks/compose", sketch_bytes()), 400)
    as_file = {"file": ("a.mid", sketch_bytes()), "options": ("options.json", b"{}")}
    assert "as text, not a file" in is_error(client.post("/api/tasks/continue", files=as_file), 400)
    assert "options.level" in is_error(post(client, "/api/originality", sketch_bytes(), options={"level": "x"}), 400)


def test_hostile_uploads_are_one_json_error(client: TestClient) -> None:
    too_big = b"MThd" + bytes(UPLOAD_CAP)
    assert "file: the file is more than" in is_error(post(client, "/api/analyze", too_big), 413)
    assert "larger than" in is_error(post(client, "/api/analyze", too_big * 2), 413)
    assert "MThd" in is_error(post(client, "/api/analyze", b"RIFF....WAVEfmt "), 415)
    assert "'.wav'" in is_error(post(client, "/api/analyze", b"RIFF....WAVEfmt ", filename="take.wav"), 415)
    assert "no extension" in is_error(post(client, "/api/analyze", sketch_bytes(), filename="sketch"), 415)
    assert "zip" in is_error(post(client, "/api/analyze", b"<score-partwise/>", filename="a.mxl"), 415)
    assert "MusicXML" in is_error(post(client, "/api/analyze", b"MThd", filename="a.musicxml"), 415)
    assert "empty" in is_error(post(client, "/api/analyze", b""), 400)
    assert "multipart" in is_error(
        client.post("/api/analyze", content=b"MThd", headers={"content-type": "audio/midi"}), 400
    )
    assert "not a field" in is_error(client.post("/api/analyze", files={"music": ("a.mid", sketch_bytes())}), 400)
    assert "file: missing" in is_error(client.post("/api/analyze", files={"options": (None, "{}")}), 400)


def test_hostile_music_fails_its_job_in_one_line(client: TestClient) -> None:
    status = post(client, "/api/tasks/continue", midi_52_bytes_of_hours()).json()
    assert status["status"] == "failed"
    assert status["error"] == "upload.mid: music lasts 21,600 quarter notes, longer than 8,000"
    status = post(client, "/api/analyze", mxl_bomb(), filename="score.mxl").json()
    assert status["status"] == "failed" and status["error"].startswith("upload.mxl: score.xml inside the archive")
    status = post(client, "/api/analyze", b"MThd\x00\x00\x00\x06\x00\x00").json()
    assert status["status"] == "failed" and status["error"].startswith("upload.mid: ")
    status = post(
        client, "/api/analyze", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>", "a.xml"
    ).json()
    assert status["status"] == "failed" and status["error"].startswith("upload.xml: ")


def test_the_clients_file_name_is_never_used(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    status = done(client, post(client, "/api/analyze", sketch_bytes(), filename="../../../escaped.mid"))
    assert sorted(p.name for p in (engine.root / status["id"] / "input").iterdir()) == ["upload.mid"]
    assert not list(engine.root.parent.parent.rglob("escaped*"))
    status = done(client, post(client, "/api/analyze", sketch_bytes(), filename="..\\..\\Sketch.MIDI"))
    assert sorted(p.name for p in (engine.root / status["id"] / "input").iterdir()) == ["upload.midi"]


def test_the_body_is_refused_while_it_arrives(tmp_path: Path) -> None:
    """413 once the body passes the cap, without reading the rest (no Content-Length)."""
    import asyncio

    from cadenza.service.app import create_app
    from cadenza.service.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, max_upload_bytes=UPLOAD_CAP, rate=0))
    head = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.mid"\r\n\r\nMThd'
    chunks = [head] + [bytes(64 * 1024)] * 1000
    received: list[int] = []
    answers: list[dict] = []

    async def receive() -> dict:
        received.append(1)
        return {"type": "http.request", "body": chunks[len(received) - 1], "more_body": len(received) < len(chunks)}

    async def send(message: dict) -> None:
        answers.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/analyze",
        "raw_path": b"/api/analyze",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"multipart/form-data; boundary=x"), (b"host", b"test")],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))
    assert answers[0]["status"] == 413
    assert len(received) <= 1 + (UPLOAD_CAP + 64 * 1024) // (64 * 1024) + 1  # a few chunks of the 1000
    assert json.loads(answers[1]["body"])["error"].startswith("the request is larger than")


def test_the_openapi_spec_has_the_upload_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/tasks/{task}", "/api/analyze", "/api/originality", "/api/verify"):
        post = paths[path]["post"]
        form = post["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert "file" in form["required"] and form["properties"]["file"]["format"] == "binary"
        assert {"202", "200", "400", "413", "415", "429", "503"} <= set(post["responses"])
    assert (
        "record" in paths["/api/verify"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["required"]
    )


def quarters_of(data: bytes) -> Notes:
    """(start, duration, pitch) of each track's notes in 1/480 quarters, by track name."""
    score = symusic.Score.from_midi(data)
    scale = TPQ / score.ticks_per_quarter
    return {
        t.name: sorted((round(n.time * scale), round(n.duration * scale), n.pitch) for n in t.notes)
        for t in score.tracks
    }


def test_musicxml_and_mxl_uploads_are_read_in_the_worker(client: TestClient, tmp_path: Path) -> None:
    from cadenza.io import save_score

    save_score(sketch_score(bass=False), tmp_path / "sketch.musicxml")
    xml = (tmp_path / "sketch.musicxml").read_bytes()
    status = done(client, post(client, "/api/tasks/continue", xml, "sketch.musicxml", {"bars": 1, "wav": False}))
    before = quarters_of(fetch(client, status, "before.mid"))
    assert [p for _, _, p in next(iter(before.values()))] == TUNE  # the tune as MusicXML gave it
    after = quarters_of(fetch(client, status, "music.mid"))
    name = next(iter(before))
    assert in_bars(after[name], {1, 2, 3, 4}) == before[name] and in_bars(after[name], {5})
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("score.musicxml", xml)
    status = done(client, post(client, "/api/analyze", packed.getvalue(), "sketch.mxl"))
    assert status["summary"]["key"][0]["label"] == "C:maj"
