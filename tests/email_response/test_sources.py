"""Import sources: .eml files, Maildirs, mbox files; unreadable things reported, not fatal."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from email_response.sources import RawMessage, SourceProblem, iter_messages

from .conftest import mfs


def msg(number: int) -> bytes:
    return mfs(f"""\
        From: ann@example.org
        Subject: old ticket {number}
        Message-ID: <old-{number}@example.org>

        body {number}
        """)


def test_eml_files_maildirs_and_mbox_files(tmp_path: Path) -> None:
    (tmp_path / "one.eml").write_bytes(msg(1))
    maildir = mailbox.Maildir(tmp_path / "maildir", create=True)
    maildir.add(msg(2))
    maildir.add(msg(3))
    box = mailbox.mbox(tmp_path / "export.mbox", create=True)
    box.add(msg(4))
    box.add(msg(5))
    box.flush()
    box.close()

    items = list(iter_messages([tmp_path / "one.eml", tmp_path / "maildir", tmp_path / "export.mbox"]))

    messages = [item for item in items if isinstance(item, RawMessage)]
    assert messages == items
    bodies = sorted(item.raw.split(b"Subject: ")[1].split(b"\r\n")[0].split(b"\n")[0] for item in messages)
    assert bodies == [f"old ticket {n}".encode() for n in range(1, 6)]
    labels = [item.label for item in items]
    assert labels[0] == str(tmp_path / "one.eml")
    assert labels[-2:] == [f"{tmp_path / 'export.mbox'}#1", f"{tmp_path / 'export.mbox'}#2"]


def test_a_directory_is_searched_in_a_stable_order(tmp_path: Path) -> None:
    (tmp_path / "b.eml").write_bytes(msg(2))
    (tmp_path / "a.eml").write_bytes(msg(1))
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.eml").write_bytes(msg(3))
    labels = [item.label for item in iter_messages([tmp_path])]
    assert labels == [str(tmp_path / "a.eml"), str(tmp_path / "b.eml")]


def test_an_unreadable_file_is_reported_and_the_rest_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.eml").write_bytes(msg(1))
    (tmp_path / "b.eml").write_bytes(msg(2))
    original = Path.read_bytes

    # Tests run as root in CI, where a file's mode does not stop reading; refuse the way the kernel would.
    def refuse(self: Path) -> bytes:
        if self.name == "a.eml":
            raise PermissionError(13, "Permission denied")
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    items = list(iter_messages([tmp_path]))
    assert isinstance(items[0], SourceProblem)
    assert "Permission denied" in items[0].reason
    assert isinstance(items[1], RawMessage)


def test_a_missing_path_is_reported_and_the_rest_goes_on(tmp_path: Path) -> None:
    (tmp_path / "a.eml").write_bytes(msg(1))
    items = list(iter_messages([tmp_path / "nope", tmp_path / "a.eml"]))
    assert items[0] == SourceProblem(str(tmp_path / "nope"), "no such file or directory")
    assert isinstance(items[1], RawMessage)


def test_a_directory_that_cannot_be_listed_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    original = Path.iterdir

    def refuse(self: Path):
        if self.name == "sub":
            raise PermissionError(13, "Permission denied")
        return original(self)

    monkeypatch.setattr(Path, "iterdir", refuse)
    (tmp_path / "z.eml").write_bytes(msg(1))
    items = list(iter_messages([tmp_path]))
    assert isinstance(items[0], SourceProblem)
    assert "Permission denied" in items[0].reason
    assert isinstance(items[1], RawMessage)
