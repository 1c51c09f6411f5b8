"""The README's composer examples run as written, and the docs' files are what they say."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
import symusic
from typer.testing import CliRunner

from cadenza.cli import app

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs" / "composer"
SECTION = "## Beside the composer: your own music"
COMMANDS = ("continue", "infill", "harmonize", "accompany", "vary", "arrange")
EXAMPLES = "cadenza/examples/"

runner = CliRunner()


def readme_commands(text: str) -> list[str]:
    """The `cadenza COMMAND` lines of the first bash block of the README's composer section
    (comments dropped, continued lines joined)."""
    if SECTION not in text:
        raise AssertionError(f"README has no section {SECTION!r}")
    after = text.split(SECTION, 1)[1]
    block = re.search(r"```bash\n(.*?)```", after, re.DOTALL)
    assert block is not None, "the composer section has no bash block"
    joined = block.group(1).replace("\\\n", " ")
    lines = [shlex.split(line, comments=True) for line in joined.splitlines()]
    return [shlex.join(words) for words in lines if len(words) > 1 and words[0] == "cadenza" and words[1] in COMMANDS]


@cache
def _make_pictures() -> ModuleType:
    """docs/composer/make_pictures.py, imported from its path (docs/ is no package)."""
    spec = importlib.util.spec_from_file_location("cadenza_docs_make_pictures", DOCS / "make_pictures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_readme_shows_each_composer_command_once() -> None:
    shown = [shlex.split(c)[1] for c in readme_commands(README.read_text(encoding="utf-8"))]
    assert sorted(shown) == sorted(COMMANDS)


def test_readme_commands_are_found_in_a_section_of_the_readme_form() -> None:
    text = f"# x\n\n{SECTION}\n\n```bash\ncadenza vary in.mid \\\n  --amount 0.3 -o out.mid   # a comment\nls\n```\n"
    assert readme_commands(text) == ["cadenza vary in.mid --amount 0.3 -o out.mid"]
    with pytest.raises(AssertionError, match="no section"):
        readme_commands("# x\n")


@pytest.mark.slow
@pytest.mark.parametrize("command", readme_commands(README.read_text(encoding="utf-8")))
def test_readme_composer_example_runs(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    words = shlex.split(command)[1:]
    args = [str(REPO / w) if w.startswith(EXAMPLES) else w for w in words]
    for path in (a for a in args if a.startswith(str(REPO))):
        assert Path(path).is_file(), f"{command}: {path} is not shipped"
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, f"{command}\n{result.output}"
    output = tmp_path / words[words.index("-o") + 1]
    assert output.is_file(), command
    score = symusic.Score(output)
    assert score.note_num() > 0
    record = json.loads((tmp_path / f"{output.name}.provenance.json").read_text())
    assert record["conditions"]["task"] == words[0]
    assert record["conditions"]["source"]["file"] == Path(words[1]).name


def test_melody_example_is_the_chorales_soprano_byte_for_byte() -> None:
    chorale = (REPO / EXAMPLES / "bwv66.6.mid").read_bytes()
    melody = (REPO / EXAMPLES / "melody.mid").read_bytes()
    assert melody == _make_pictures().first_track(chorale)
    assert [t.name for t in symusic.Score(REPO / EXAMPLES / "melody.mid").tracks] == ["Soprano"]


def test_melody_example_is_package_data() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    data = re.search(r"\[tool\.setuptools\.package-data\]\ncadenza = \[(.*?)\]", text)
    assert data is not None and '"examples/*"' in data.group(1)


def test_each_composer_page_shows_its_picture_and_the_command_that_made_it() -> None:
    pictures = {p.name: p for p in _make_pictures().PICTURES}
    assert sorted(pictures) == sorted(COMMANDS)
    for name in COMMANDS:
        page = (DOCS / f"{name}.md").read_text(encoding="utf-8")
        picture = DOCS / "images" / f"{name}.png"
        assert f"images/{name}.png" in page, name
        assert picture.is_file() and picture.stat().st_size < 200_000, name
        assert pictures[name].command in page, name
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    assert all(f"({name}.md)" in index for name in COMMANDS)
