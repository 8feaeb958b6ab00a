"""The routing commands as the app's CLI will call them."""

from __future__ import annotations

import argparse
import json

import pytest

from routing.cli import parse_target, register_bench, register_commands


@pytest.fixture
def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contact-center")
    commands = parser.add_subparsers(dest="command", required=True)
    register_commands(commands)
    bench = commands.add_parser("bench").add_subparsers(dest="bench", required=True)
    register_bench(bench)
    return parser


def run(parser: argparse.ArgumentParser, *argv: str) -> int:
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_erlang_json(parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(parser, "erlang", "--arrival-rate", "0.0555556", "--aht", "180", "--target", "80/20", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["agents"] == 14
    assert data["service_level"] == pytest.approx(0.888, abs=1e-3)


def test_erlang_text(parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(parser, "erlang", "--arrival-rate", "1", "--aht", "180") == 0
    assert "188 (needed for 80/20)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["erlang", "--arrival-rate", "1", "--aht", "180", "--target", "80"], "80/20"),
        (["erlang", "--arrival-rate", "1", "--aht", "180", "--target", "120/20"], "between 0 and 100"),
        (["erlang", "--arrival-rate", "-1", "--aht", "180"], "positive"),
        (["simulate", "--agents", "0", "--arrival-rate", "1", "--aht", "1", "--duration", "10"], "agent"),
        (["simulate", "--agents", "2", "--arrival-rate", "nan", "--aht", "1", "--duration", "10"], "finite"),
        (["bench", "routing", "--agents", "0"], "at least 1"),
        (["bench", "routing", "--concurrency", "0"], "at least 1"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert run(parser, *argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_simulate_json_is_deterministic(parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "simulate",
        "--agents",
        "4",
        "--arrival-rate",
        "0.05",
        "--aht",
        "60",
        "--patience",
        "60",
        "--duration",
        "3000",
        "--seed",
        "5",
        "--json",
    ]
    assert run(parser, *argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert run(parser, *argv) == 0
    assert json.loads(capsys.readouterr().out) == first
    assert set(first) >= {"service_level", "average_speed_of_answer", "abandonment_rate", "occupancy"}


def test_simulate_text(parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--agents", "4", "--arrival-rate", "0.05", "--aht", "60", "--duration", "2000", "--seed", "1"]
    assert run(parser, *argv) == 0
    assert "within 20 s" in capsys.readouterr().out


def test_bench_routing_json(parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "routing", "--agents", "100", "--skills", "5", "--tasks", "400", "--decisions", "800", "--json"]
    assert run(parser, *argv) == 0
    report = json.loads(capsys.readouterr().out)
    base, doubled = report["runs"]
    assert (base["agents"], doubled["agents"], doubled["tasks"]) == (100, 200, 800)
    assert base["decisions_per_second"] > 0
    assert 0 < base["p50_ms"] <= base["p99_ms"] <= base["max_ms"]
    assert "p99_ratio_when_doubled" in report


def test_bench_routing_table(parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "bench",
        "routing",
        "--agents",
        "50",
        "--skills",
        "3",
        "--tasks",
        "100",
        "--decisions",
        "200",
        "--no-double",
    ]
    assert run(parser, *argv) == 0
    out = capsys.readouterr().out
    assert "| memory | 1 | 50 | 3 | 100 |" in out
    assert "50 agents: client CPU " in out


def test_parse_target() -> None:
    assert parse_target("90/15") == (0.9, 15.0)
    with pytest.raises(ValueError, match="80/20"):
        parse_target("x/y")


def test_bench_routing_on_redis_times_a_bare_round_trip_and_cleans_up(
    parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "routing", "--backend", "redis", "--agents", "20", "--skills", "2", "--tasks", "40"]
    assert run(parser, *argv, "--decisions", "200", "--no-double", "--json") == 0
    (result,) = json.loads(capsys.readouterr().out)["runs"]
    assert (result["backend"], result["concurrency"]) == ("redis", 8)  # an app's concurrent requests by default
    assert 0 < result["lua_round_trip_p50_ms"] <= result["lua_round_trip_p99_ms"]
    assert result["round_trip_ratio"] > 0
    # The server's CPU over the timed phase counts at least the decisions' own work (Redis reports it in us steps).
    assert result["server_cpu_us_per_decision"] > 0
    assert result["client_cpu_us_per_decision"] > 0


def test_bench_routing_on_redis_with_concurrent_callers(
    parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "routing", "--backend", "redis", "--agents", "20", "--skills", "2", "--tasks", "40"]
    assert run(parser, *argv, "--decisions", "200", "--concurrency", "4", "--no-double", "--json") == 0
    (result,) = json.loads(capsys.readouterr().out)["runs"]
    assert (result["concurrency"], result["decisions"]) == (4, 200)
    assert 0 < result["p50_ms"] <= result["p99_ms"]
