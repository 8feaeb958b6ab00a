"""Importing mail from another help desk: threaded like live mail, never acknowledged, summarised."""

from __future__ import annotations

import argparse
import json
import mailbox

import pytest
from sqlmodel import select

from contact_center.channels.email.cli import register_commands
from contact_center.channels.email.importer import import_paths
from contact_center.models import Case, EmailUnprocessable, OutboxMessage
from tests.conftest import DATABASES

from .conftest import CORPUS, mfs

SAMPLES = ["flanker/multipart.eml", "flanker/outlook-express.eml", "flanker/torture.eml", "flanker/relative.eml"]


def main(argv):
    """Run the `email` command group as contact_center.cli registers it."""
    parser = argparse.ArgumentParser(prog="contact-center")
    register_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def thread(tmp_path):
    """Write a little mbox: a question, its reply, and the question again (a duplicate)."""
    question = mfs("""\
        From: Ann <ann@example.org>
        To: help@example.test
        Subject: Invoice
        Message-ID: <invoice@example.org>

        Where is my invoice?
        """)
    answer = mfs("""\
        From: Ann <ann@example.org>
        To: help@example.test
        Subject: Re: Invoice
        Message-ID: <invoice-2@example.org>
        In-Reply-To: <invoice@example.org>

        Found it, thanks.
        """)
    path = tmp_path / "old.mbox"
    box = mailbox.mbox(path)
    for raw in (question, answer, question):
        box.add(raw)
    box.flush()
    box.close()
    (tmp_path / "broken.eml").write_bytes(b"\x00 nothing here")
    return [path, tmp_path / "broken.eml"]


async def test_an_import_threads_old_mail_and_answers_none(database, clock, tmp_path):
    if not CORPUS.is_dir():
        pytest.skip(f"the email fixture corpus is not at {CORPUS}")
    paths = [CORPUS / sample for sample in SAMPLES] + thread(tmp_path)
    ticks = []

    summary = await import_paths(database, paths, clock.now(), progress=ticks.append)

    assert (summary.imported, summary.threaded, summary.unprocessable, summary.duplicates) == (6, 1, 1, 1)
    assert len(ticks) == 8
    async with database.transaction() as session:
        assert list((await session.scalars(select(OutboxMessage))).all()) == []
        assert len((await session.scalars(select(Case))).all()) == 5
        assert len((await session.scalars(select(EmailUnprocessable))).all()) == 1

    again = await import_paths(database, paths, clock.now())
    assert (again.imported, again.duplicates) == (0, 8)  # the unprocessable one too


@pytest.mark.skipif("sqlite" not in DATABASES, reason="the CLI test runs on SQLite")
def test_the_import_command_prints_a_json_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("SMTP_HOST", raising=False)

    assert main(["email", "import", *map(str, thread(tmp_path)), "--json"]) == 0

    summary = json.loads(capsys.readouterr().out)
    assert summary["imported"] == 2
    assert summary["threaded"] == 1
    assert summary["duplicates"] == 1
    assert summary["unprocessable"] == 1


def test_a_missing_path_exits_2(tmp_path, capsys):
    assert main(["email", "import", str(tmp_path / "nowhere.mbox")]) == 2
    assert "nowhere.mbox" in capsys.readouterr().err
