"""The command line: help everywhere, migrations, demo data, users, and clear errors for bad configuration."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys

import pytest
from sqlmodel import func, select

from contact_center.cli import build_parser, main
from contact_center.db import Database
from contact_center.demo import DEMO_ACCOUNTS, load_demo
from contact_center.migrate import upgrade
from contact_center.models import Agent, Case, CaseStatus, Channel, Contact, Customer, CustomerTier, User
from contact_center.settings import Settings
from knowledge_base.search import suggest_articles


def every_command(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += every_command(sub, (*prefix, name))
    return found


@pytest.mark.parametrize("command", every_command(build_parser()), ids=lambda c: " ".join(c) or "top")
def test_every_command_answers_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: contact-center" in capsys.readouterr().out


def test_migrate_then_create_a_user(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["migrate"]) == 0
    assert "database at head" in capsys.readouterr().out
    monkeypatch.setenv("NEW_PASSWORD", "a long admin password")
    assert main(["user", "create", "Root@Example.test", "--role", "admin", "--password-env", "NEW_PASSWORD"]) == 0
    assert main(["user", "create", "root@example.test", "--password-env", "NEW_PASSWORD"]) == 2
    assert "exists already" in capsys.readouterr().err
    monkeypatch.setenv("NEW_PASSWORD", "short")
    assert main(["user", "create", "x@example.test", "--password-env", "NEW_PASSWORD"]) == 2
    assert (tmp_path / "contact-center.db").exists()
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_bad_configuration_is_a_message_and_exit_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    assert main(["migrate"]) == 2
    assert "DATABASE_URL scheme 'mysql' is not supported" in capsys.readouterr().err
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("SESSION_HOURS", "soon")
    assert main(["migrate"]) == 2
    assert "SESSION_HOURS 'soon' is not a whole number" in capsys.readouterr().err


def test_a_bad_port_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--port", "eighty"])
    assert exit_info.value.code == 2
    assert "invalid int value" in capsys.readouterr().err


async def test_demo_data_covers_every_tier_and_channel_and_loads_once(tmp_path):
    settings = Settings.from_env({"DATA_DIR": str(tmp_path)})
    await asyncio.to_thread(upgrade, settings.database_url)
    first = await load_demo(settings)
    again = await load_demo(settings)
    assert first == again == [(u, p, r.value) for u, p, r, _ in DEMO_ACCOUNTS]
    database = Database(settings.database_url)
    async with database.transaction() as session:
        tiers = set((await session.scalars(select(Customer.tier))).all())
        channels = set((await session.scalars(select(Contact.channel))).all())
        statuses = set((await session.scalars(select(Case.status))).all())
        agents = (await session.scalars(select(Agent))).all()
        users = await session.scalar(select(func.count()).select_from(User))
        router_help = await suggest_articles(session, "Router keeps rebooting", "en")
        invoice_help = await suggest_articles(session, "发票金额不对", "zh")
    await database.dispose()
    assert tiers == set(CustomerTier)
    assert channels == set(Channel)
    assert statuses <= {CaseStatus.NEW, CaseStatus.OPEN}
    assert {lang for agent in agents for lang in agent.languages} >= {"en", "zh"}
    assert users == len(DEMO_ACCOUNTS)
    # The demo's open cases find their knowledge-base articles, in English and in Chinese.
    assert router_help[0].article.slug == "router-keeps-rebooting"
    assert invoice_help[0].article.slug == "fapiao-jine"


def test_the_installed_command_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "contact_center.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "serve" in result.stdout
