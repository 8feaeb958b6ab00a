"""`contact-center ivr check|sim|graph`, driven through an argparse parser as the app's CLI builds it."""

from __future__ import annotations

import argparse
import io
import shutil
from pathlib import Path

import pytest

from ivr.cli import register_commands

from .conftest import EXAMPLES

MAIN_MENU = str(EXAMPLES / "main_menu.yaml")


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="contact-center")
    register_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def sim(monkeypatch: pytest.MonkeyPatch, answers: str, *argv: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(answers))
    return run("ivr", "sim", MAIN_MENU, "--caller", "+447700900001", *argv)


def test_check_passes_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("ivr", "check", MAIN_MENU, "--skills", "general,billing,technical,mandarin") == 0
    assert capsys.readouterr().out == f"{MAIN_MENU}: ok (24 nodes)\n"


def test_check_lists_problems_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("ivr", "check", MAIN_MENU, "--queues", "billing,general") == 1
    err = capsys.readouterr().err.splitlines()
    text = Path(MAIN_MENU).read_text(encoding="utf-8").splitlines()
    lines = [number for number, line in enumerate(text, 1) if line.strip() == "queue: technical"]
    assert len(lines) == 3
    assert err == [
        *(f"{MAIN_MENU}:{line}: unknown queue 'technical' [unknown-queue]" for line in lines),
        f"{MAIN_MENU}: 3 problem(s)",
    ]


def test_check_reports_load_errors_with_their_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = tmp_path / "bad.yaml"
    flow.write_text("flow: bad\nstart: a\nlanguages: {en-US: {voice: Polly.Joanna}}\nnodes:\n  a: {type: nap}\n")
    assert run("ivr", "check", str(flow)) == 1
    assert capsys.readouterr().err.startswith(f"{flow}:5: 'type' must be one of")


def test_sim_case_status(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code = sim(monkeypatch, "1\n123\n4\n", "--name", "Alice", "--at", "2026-11-23T10:00:00+00:00")
    assert code == 0
    out = capsys.readouterr().out
    assert "[en-US] Hello Alice, thank you for calling Acme Support." in out
    assert "[app] case_status lookup for CS-000123" in out
    assert "[en-US] Case CS-000123: in progress, an engineer is working on it." in out
    assert out.endswith(
        "Caller ended up: queue technical with skills technical (level 2), priority 5, language en-US\n"
    )


def test_sim_after_hours_voicemail_in_chinese(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = sim(monkeypatch, "请回电\n", "--language", "zh-CN", "--at", "2026-12-25T10:00:00Z")
    assert code == 0
    out = capsys.readouterr().out
    assert "[cmn-CN] 现在是非工作时间。" in out
    assert "[app] voicemail stored (1 s)" in out
    assert out.endswith("Caller ended up: voicemail (message left)\n")


def test_sim_retries_then_the_caller_hangs_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = sim(monkeypatch, "\n7\n", "--at", "2026-11-23T10:00:00+00:00", "--lookup", "case_status=error")
    assert code == 0
    out = capsys.readouterr().out
    assert "Sorry, I didn't hear anything." in out
    assert "Sorry, that is not one of the choices." in out
    assert out.endswith("Caller ended up: caller hung up at main_menu\n")


def test_sim_lookup_outcomes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    sim(monkeypatch, "2\n", "--at", "2026-11-23T10:00:00+00:00", "--lookup", "next_visit=not_found")
    assert "There is no technician visit booked for this phone number." in capsys.readouterr().out


def test_sim_refuses_a_time_without_offset(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run("ivr", "sim", MAIN_MENU, "--caller", "+1", "--at", "2026-11-23T10:00:00")
    assert "give a UTC offset" in capsys.readouterr().err


def test_graph_prints_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("ivr", "graph", MAIN_MENU) == 0
    assert capsys.readouterr().out.startswith("flowchart TD\n")


def test_graph_svg_needs_graphviz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "flow.svg"
    code = run("ivr", "graph", MAIN_MENU, "--svg", str(out))
    if shutil.which("dot") is None:
        assert code == 1
        assert "Graphviz is not installed" in capsys.readouterr().err
    else:
        assert code == 0
        assert out.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_group_without_command_shows_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("ivr") == 2
    assert "check" in capsys.readouterr().err
