"""Reading raw messages for an import from another help desk: .eml files, Maildirs and mbox files.

    for item in iter_messages([Path("export.mbox"), Path("old-maildir"), Path("one.eml")]):
        if isinstance(item, SourceProblem):
            report(item.label, item.reason)       # unreadable: reported, the import goes on
        else:
            label, raw = item                     # RawMessage is a (label, raw bytes) tuple
            ... parse_message(raw) ...

What a path is: a directory with `cur/` and `new/` is a Maildir; any other directory is searched (sorted, not
following hidden folders) for Maildirs, mbox files and `.eml` files; a file that starts with an mbox "From "
line is an mbox; any other file is one message. Labels are stable (`path`, `path#3` for the third message of
an mbox, `path#<key>` in a Maildir) so a summary or a re-run can point at the message. The iterator reads files
with blocking I/O: an async caller runs it in a thread.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

__all__ = ["RawMessage", "SourceProblem", "iter_messages"]

# Inside a directory, files with other suffixes (a PDF next to the export, a README) are not messages.
_MESSAGE_SUFFIXES = {".eml", ".mbox", ".mbx", ""}


class RawMessage(NamedTuple):
    label: str
    raw: bytes


@dataclass(frozen=True)
class SourceProblem:
    """A path or message that could not be read; the import reports it and goes on."""

    label: str
    reason: str


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def _looks_like_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def iter_messages(paths: Iterable[Path]) -> Iterator[RawMessage | SourceProblem]:
    """Yield every message under the given paths, and a SourceProblem for each thing that cannot be read."""
    for path in paths:
        yield from _iter_path(Path(path))


def _iter_path(path: Path) -> Iterator[RawMessage | SourceProblem]:
    try:
        if _is_maildir(path):
            yield from _iter_maildir(path)
        elif path.is_dir():
            for child in sorted(path.iterdir()):
                if child.name.startswith("."):
                    continue
                if child.is_dir() or child.suffix.lower() in _MESSAGE_SUFFIXES:
                    yield from _iter_path(child)
        elif not path.exists():
            yield SourceProblem(str(path), "no such file or directory")
        elif _looks_like_mbox(path):
            yield from _iter_mbox(path)
        else:
            yield RawMessage(str(path), path.read_bytes())
    except OSError as exc:
        yield SourceProblem(str(path), f"{type(exc).__name__}: {exc.strerror or exc}")


def _iter_maildir(path: Path) -> Iterator[RawMessage | SourceProblem]:
    box = mailbox.Maildir(path, factory=None, create=False)
    for key in sorted(box.iterkeys()):
        label = f"{path}#{key}"
        try:
            yield RawMessage(label, box.get_bytes(key))
        except (OSError, KeyError) as exc:
            yield SourceProblem(label, f"{type(exc).__name__}: {exc}")


def _iter_mbox(path: Path) -> Iterator[RawMessage | SourceProblem]:
    box = mailbox.mbox(path, factory=None, create=False)
    try:
        for number, key in enumerate(box.iterkeys(), start=1):
            label = f"{path}#{number}"
            try:
                yield RawMessage(label, box.get_bytes(key))
            except (OSError, KeyError) as exc:
                yield SourceProblem(label, f"{type(exc).__name__}: {exc}")
    finally:
        box.close()
