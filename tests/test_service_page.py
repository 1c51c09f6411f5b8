"""The studio page in a real headless browser (Debian's chromium, driven by Playwright)
against a real ``cadenza serve`` on a free loopback port: type a prompt, press Generate,
the piano roll and the player appear, the MIDI downloads and parses, the originality
report shows. ``CADENZA_SCREENSHOT=1`` also saves the page to docs/images/studio.png."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import symusic

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL = ("http://127.0.0.1", "blob:", "data:")
SCREENSHOT = REPO / "docs" / "images" / "studio.png"
SERVE = """
import sys
from pathlib import Path
import uvicorn
from cadenza.service.app import create_app
from cadenza.service.settings import Settings
settings = Settings(port=int(sys.argv[1]), workers=1, data_dir=Path(sys.argv[2]))
uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
"""
JOB_TIMEOUT_MS = 240_000  # a job on a busy two-core machine: worker start, model load, composing, rendering

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

if CHROMIUM.exists():
    from playwright.sync_api import Browser, Page, expect, sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"cadenza serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as answer:
                if json.load(answer).get("status") == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"cadenza serve did not answer in {seconds:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on uvicorn in a child process, its keys in a temporary home."""
    folder = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "CADENZA_HOME": str(folder / "home"), "OMP_NUM_THREADS": "1"}
    port = _free_port()
    log = folder / "serve.log"
    command = [sys.executable, "-c", SERVE, str(port), str(folder / "data")]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    outside: list[str] = []  # every request the page makes must stay on the server
    page.on("request", lambda r: None if r.url.startswith(LOCAL) else outside.append(r.url))
    yield page
    context.close()
    assert outside == [], f"the page asked for something outside the server: {outside}"


def _image_loaded(page: Page, selector: str) -> None:
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 0; }",
        arg=selector,
        timeout=30_000,
    )


def test_prompt_generate_play_download_and_the_report(server: str, page: Page, tmp_path: Path) -> None:
    page.goto(server)
    expect(page.locator("#model")).to_contain_text("cadenza-multitrack")  # GET /api/models answered
    page.get_by_label("What do you need?").fill("warm folk tune for violin and guitar, relaxed")
    page.get_by_label("Length (seconds)").fill("8")
    page.get_by_role("button", name="Generate").click()

    error = page.locator("#error")
    expect(page.locator("#pianoroll:visible, #error:visible").first).to_be_visible(timeout=JOB_TIMEOUT_MS)
    assert error.is_hidden(), error.text_content()
    _image_loaded(page, "#pianoroll")
    player = page.locator("audio#player")
    expect(player).to_be_visible()
    page.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=30_000)
    seconds = page.evaluate("() => document.getElementById('player').duration")
    assert 7.5 <= seconds <= 12, seconds  # 8 s asked, plus the release of the last notes

    with page.expect_download() as download:
        page.get_by_role("link", name="MIDI", exact=True).click()
    midi = tmp_path / "music.mid"
    download.value.save_as(midi)
    assert download.value.suggested_filename.endswith("music.mid")
    assert symusic.Score(str(midi)).note_num() > 0

    report = page.locator("#originality")
    expect(report).to_contain_text("patterns occur in the training set")
    expect(report).to_contain_text(" at NORMAL")
    provenance = page.locator("#provenance")
    expect(provenance).to_contain_text("signed by")
    expect(provenance).to_contain_text("warm folk tune for violin and guitar")
    expect(page.locator("#job-status")).to_have_text("done")

    if os.environ.get("CADENZA_SCREENSHOT") == "1":
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.set_viewport_size({"width": 380, "height": 800})  # a phone: nothing wider than the screen
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 380


def test_a_refused_request_shows_the_servers_message(server: str, page: Page) -> None:
    page.goto(server)
    page.get_by_label("Tempo (bpm)").fill("999")
    page.get_by_role("button", name="Generate").click()
    error = page.locator("#error")
    expect(error).to_be_visible(timeout=30_000)
    expect(error).to_contain_text("tempo")
    expect(page.get_by_role("button", name="Generate")).to_be_enabled()
