"""Documents a user writes by hand (a plan, a cue sheet): JSON, or YAML when PyYAML is installed.

Reading one is bounded as :mod:`cadenza.jsonfile` bounds JSON: a regular file (a FIFO is
never opened), at most ``max_bytes``, and YAML without aliases (``*name``: an alias
can make a small file a huge structure). Every refusal is one line naming the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cadenza.errors import InputFileError
from cadenza.io.files import not_regular
from cadenza.jsonfile import parse_json

__all__ = ["DOCUMENT_SUFFIXES", "read_document"]

DOCUMENT_SUFFIXES = (".json", ".yaml", ".yml")


def read_document(path: str | os.PathLike[str], what: str, max_bytes: int) -> object:
    """The value in a ``.json``, ``.yaml`` or ``.yml`` file; ``what`` names the kind of
    document in messages ("plan", "cue sheet")."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        raise InputFileError(f"is not a {what} file; a {what} is {', '.join(DOCUMENT_SUFFIXES)}", path)
    reason = not_regular(path)
    if reason is not None:  # never opened: a FIFO would block
        raise InputFileError(reason if reason.startswith("unreadable") else f"is {reason.split(':')[0]}", path)
    size = path.stat().st_size
    if size > max_bytes:
        raise InputFileError(f"is too large for a {what} ({size:,} bytes; at most {max_bytes:,})", path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputFileError(f"cannot be read ({error.strerror or error})", path) from None
    if suffix == ".json":
        try:
            value = parse_json(data.removeprefix(b"\xef\xbb\xbf"))  # a byte-order mark is no part of the text
        except ValueError as error:
            raise InputFileError(f"is not a {what}: {error}", path) from None
        twice = _key_twice(data.removeprefix(b"\xef\xbb\xbf"))
        if twice is not None:
            raise InputFileError(f"is not a {what}: the key {twice[:60]!r} is given twice in one object", path)
        return value
    return _yaml(data, path, what)


def _key_twice(text: bytes) -> str | None:
    """A key given twice in one object (Python's reader keeps the last; a hand-written
    document that says two things means one of them by mistake), or None."""
    found: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen and not found:
                found.append(key)
            seen.add(key)
        return dict(items)

    json.loads(text.decode("utf-8"), object_pairs_hook=pairs)  # already parsed once: it is JSON
    return found[0] if found else None


def _yaml(data: bytes, path: Path, what: str) -> object:
    try:
        import yaml
    except ImportError:
        raise InputFileError(
            f"is YAML, which needs PyYAML (pip install pyyaml); or give the {what} as JSON", path
        ) from None

    class NoAliases(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
            seen: set[object] = set()
            for key_node, _ in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {str(key)[:60]!r} is given twice", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep)

        def compose_node(self, parent: object, index: object) -> object:
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"aliases (*name) are not allowed in a {what}", mark)
            return super().compose_node(parent, index)

    try:
        return yaml.load(data.decode("utf-8"), Loader=NoAliases)  # a SafeLoader
    except UnicodeDecodeError:
        raise InputFileError(f"is not a {what} (not UTF-8 text)", path) from None
    except (yaml.YAMLError, RecursionError, ValueError) as error:  # ValueError: an integer of too many digits
        first_line = " ".join(str(error).split())[:200]
        raise InputFileError(f"is not a {what}: invalid YAML ({first_line})", path) from None
