"""Command-line commands of the routing package, registered into the app's argparse CLI.

The app's ``contact-center`` parser calls :func:`register_commands` (``simulate``, ``erlang``) and
:func:`register_bench` (``bench routing``). Each command's ``func`` takes the parsed namespace and returns the
exit code: 0 on success, 2 on bad input (after a message on stderr).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict
from typing import Any

from routing import bench, erlang
from routing.simulator import SimulationConfig, simulate

__all__ = ["BENCH_BACKENDS", "parse_target", "register_bench", "register_commands"]

BENCH_BACKENDS = ("memory", "redis")
_BAD_INPUT = 2


def register_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``simulate`` and ``erlang`` commands."""
    simulate_parser = subparsers.add_parser(
        "simulate",
        help="simulate a queue against the real routing engine",
        description="Discrete-event simulation: Poisson arrivals, exponential handle times and patience, "
        "driving the in-memory routing engine. The same seed gives the same result.",
    )
    simulate_parser.add_argument("--agents", type=int, required=True, help="number of agents")
    simulate_parser.add_argument("--arrival-rate", type=float, required=True, help="calls per second")
    simulate_parser.add_argument("--aht", type=float, required=True, help="mean handle time, seconds")
    simulate_parser.add_argument("--patience", type=float, help="mean patience before abandoning, seconds")
    simulate_parser.add_argument("--threshold", type=float, default=20.0, help="service-level threshold, seconds")
    simulate_parser.add_argument("--duration", type=float, required=True, help="simulated seconds of arrivals")
    simulate_parser.add_argument("--seed", type=int, default=0, help="random seed")
    simulate_parser.add_argument("--json", action="store_true", help="print JSON")
    simulate_parser.set_defaults(func=_simulate)

    erlang_parser = subparsers.add_parser(
        "erlang",
        help="Erlang C staffing for a service-level target",
        description="Erlang C: probability of waiting, service level, ASA and the agents a target needs.",
    )
    erlang_parser.add_argument("--arrival-rate", type=float, required=True, help="calls per second")
    erlang_parser.add_argument("--aht", type=float, required=True, help="mean handle time, seconds")
    erlang_parser.add_argument("--target", default="80/20", help="percent answered within seconds, e.g. 80/20")
    erlang_parser.add_argument("--agents", type=int, help="evaluate this staffing instead of the one needed")
    erlang_parser.add_argument("--json", action="store_true", help="print JSON")
    erlang_parser.set_defaults(func=_erlang)


def register_bench(bench_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``routing`` benchmark under the app's ``bench`` command."""
    parser = bench_subparsers.add_parser(
        "routing",
        help="benchmark routing decisions",
        description="Measure decisions per second, p50/p99 decision latency and memory, then again with agents "
        "and tasks doubled.",
    )
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--skills", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--backend", choices=BENCH_BACKENDS, default="memory")
    parser.add_argument(
        "--redis-url",
        default=bench.DEFAULT_REDIS_URL,
        help="Redis for --backend redis (a key prefix of the run's own is deleted afterwards)",
    )
    parser.add_argument("--decisions", type=int, default=40000, help="timed decisions per scale point")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="concurrent callers in the timed phase (with Redis their calls are pipelined on one connection); "
        f"default {bench.DEFAULT_CONCURRENCY['memory']} for memory, {bench.DEFAULT_CONCURRENCY['redis']} for redis",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-double", action="store_true", help="skip the doubled scale point")
    parser.add_argument("--trace-memory", action="store_true", help="also report the traced heap peak of the build")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_bench)


def parse_target(text: str) -> tuple[float, float]:
    """Parse ``"80/20"`` into (0.8, 20.0): the share to answer within the threshold in seconds."""
    percent_text, sep, seconds_text = text.partition("/")
    if not sep:
        raise ValueError(f"target {text!r} should look like 80/20 (percent/seconds)")
    try:
        percent, seconds = float(percent_text), float(seconds_text)
    except ValueError:
        raise ValueError(f"target {text!r} should look like 80/20 (percent/seconds)") from None
    if not 0 < percent < 100 or not seconds >= 0 or not math.isfinite(seconds):
        raise ValueError(f"target {text!r}: percent must be between 0 and 100 and seconds at least 0")
    return percent / 100, seconds


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return _BAD_INPUT


def _finite(value: float) -> bool:
    return math.isfinite(value)


def _simulate(args: argparse.Namespace) -> int:
    numbers = (args.arrival_rate, args.aht, args.duration, args.threshold)
    if not all(_finite(number) for number in numbers) or (args.patience is not None and not _finite(args.patience)):
        return _fail("numbers must be finite")
    try:
        config = SimulationConfig(
            agents=args.agents,
            arrival_rate=args.arrival_rate,
            aht=args.aht,
            duration=args.duration,
            seed=args.seed,
            patience=args.patience,
            threshold=args.threshold,
        )
    except ValueError as exc:
        return _fail(str(exc))
    report = simulate(config)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
        return 0
    print(f"offered             {report.offered}")
    print(f"answered            {report.answered}")
    print(f"service level       {_percent(report.service_level)} within {report.threshold:g} s")
    print(f"ASA                 {_seconds(report.average_speed_of_answer)}")
    print(f"abandoned           {report.abandoned} ({_percent(report.abandonment_rate)})")
    print(f"occupancy           {_percent(report.occupancy)}")
    return 0


def _erlang(args: argparse.Namespace) -> int:
    try:
        target, threshold = parse_target(args.target)
    except ValueError as exc:
        return _fail(str(exc))
    if not (_finite(args.arrival_rate) and args.arrival_rate > 0 and _finite(args.aht) and args.aht > 0):
        return _fail("--arrival-rate and --aht must be positive numbers")
    if args.agents is not None and args.agents < 1:
        return _fail("--agents must be at least 1")
    try:
        result = erlang.evaluate(args.arrival_rate, args.aht, target, threshold, agents=args.agents)
    except ValueError as exc:
        return _fail(str(exc))
    if args.json:
        data: dict[str, Any] = asdict(result)
        if math.isinf(data["average_speed_of_answer"]):
            data["average_speed_of_answer"] = None
        print(json.dumps(data, indent=2))
        return 0
    print(f"traffic             {result.traffic:.2f} erlangs")
    print(f"agents              {result.agents}" + ("" if args.agents else f" (needed for {args.target})"))
    print(f"P(wait)             {_percent(result.probability_of_waiting)}")
    print(f"service level       {_percent(result.service_level)} within {threshold:g} s")
    print(f"ASA                 {_seconds(result.average_speed_of_answer)}")
    print(f"occupancy           {_percent(result.occupancy)}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    if args.concurrency is None:
        args.concurrency = bench.DEFAULT_CONCURRENCY[args.backend]
    if args.agents < 1 or args.skills < 1 or args.tasks < 0 or args.decisions < 1 or args.concurrency < 1:
        return _fail("--agents, --skills, --decisions and --concurrency must be at least 1, and --tasks at least 0")
    if args.no_double:
        results: tuple[bench.BenchResult, ...] = (
            bench.run_bench(
                args.agents,
                args.skills,
                args.tasks,
                args.decisions,
                args.seed,
                args.backend,
                trace_memory=args.trace_memory,
                redis_url=args.redis_url,
                concurrency=args.concurrency,
            ),
        )
    else:
        results = bench.run_bench_pair(
            args.agents,
            args.skills,
            args.tasks,
            args.decisions,
            args.seed,
            args.backend,
            trace_memory=args.trace_memory,
            redis_url=args.redis_url,
            concurrency=args.concurrency,
        )
    if args.json:
        print(json.dumps(bench.as_json(results), indent=2))
    else:
        print(bench.format_table(results))
    return 0


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.1f} %"


def _seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "infinite (the queue grows without bound)" if math.isinf(value) else f"{value:.1f} s"
