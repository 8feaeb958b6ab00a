"""`contact-center ivr ...`: check, simulate and draw flows from a terminal.

The app's CLI owns the top-level parser and calls `register_commands`; every command is a function from parsed
arguments to an exit code, reading the terminal only when it runs so tests can feed stdin.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from functools import partial

from ivr.check import check_flow
from ivr.graph import to_dot, to_mermaid
from ivr.loader import LoadError, load_flow
from ivr.models import LOOKUP_KINDS, TIERS, Flow, Tier
from ivr.simulator import SampleLookups, simulate
from ivr.state import CallContext

__all__ = ["register_commands"]


def register_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `ivr` command group (check, sim, graph) to the app's CLI."""
    group = subparsers.add_parser("ivr", help="check, simulate and draw IVR flows")
    group.set_defaults(func=partial(_usage, group))
    commands = group.add_subparsers(dest="ivr_command", metavar="COMMAND")

    check = commands.add_parser("check", help="list the problems in a flow (exit 1 when there are any)")
    check.add_argument("flow", metavar="FLOW.yaml")
    check.add_argument("--skills", type=_names, help="known skills, comma-separated (checked when given)")
    check.add_argument("--queues", type=_names, help="known queues, comma-separated (checked when given)")
    check.set_defaults(func=_check)

    sim = commands.add_parser("sim", help="walk a call through a flow, typing digits or words")
    sim.add_argument("flow", metavar="FLOW.yaml")
    sim.add_argument("--caller", required=True, help="the caller's number, E.164 (+15551234567)")
    sim.add_argument("--name", help="the known customer's name (makes the caller known)")
    sim.add_argument("--language", help="the caller's preferred language, e.g. zh-CN")
    sim.add_argument("--tier", choices=TIERS, help="the customer's value tier")
    sim.add_argument("--at", type=_instant, help="the time of the call, ISO 8601 with offset (default: now)")
    sim.add_argument(
        "--lookup",
        action="append",
        default=[],
        type=_lookup_outcome,
        metavar="KIND=OUTCOME",
        help=f"answer a lookup kind ({', '.join(LOOKUP_KINDS)}) with ok, not_found or error (default ok)",
    )
    sim.set_defaults(func=_sim)

    graph = commands.add_parser("graph", help="print the flow as a Mermaid diagram")
    graph.add_argument("flow", metavar="FLOW.yaml")
    graph.add_argument("--svg", metavar="OUT", help="also write an SVG with Graphviz dot")
    graph.add_argument("--language", help="language of the menu words on the edges")
    graph.set_defaults(func=_graph)


def _usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    parser.print_help(sys.stderr)
    return 2


def _names(value: str) -> frozenset[str]:
    return frozenset(name.strip() for name in value.split(",") if name.strip())


def _instant(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from exc
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a UTC offset or Z, e.g. {value}+00:00")
    return at


def _lookup_outcome(value: str) -> tuple[str, str]:
    kind, _, outcome = value.partition("=")
    if kind not in LOOKUP_KINDS or outcome not in ("ok", "not_found", "error"):
        raise argparse.ArgumentTypeError(f"expected KIND=ok|not_found|error with KIND in {', '.join(LOOKUP_KINDS)}")
    return kind, outcome


def _load(path: str) -> Flow | None:
    try:
        return load_flow(path)
    except LoadError as exc:
        print(exc, file=sys.stderr)
        return None


def _check(args: argparse.Namespace) -> int:
    flow = _load(args.flow)
    if flow is None:
        return 1
    problems = check_flow(flow, skills=args.skills, queues=args.queues)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{args.flow}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{args.flow}: ok ({len(flow.nodes)} nodes)")
    return 0


def _sim(args: argparse.Namespace) -> int:
    flow = _load(args.flow)
    if flow is None:
        return 1
    tier: Tier | None = args.tier
    context = CallContext(
        # The terminal is the edge of the system: the only place the IVR package reads the clock.
        now=args.at or datetime.now(UTC),
        known=args.name is not None,
        customer_name=args.name,
        tier=tier,
        language=args.language,
    )

    def read(prompt: str) -> str | None:
        sys.stdout.write(prompt)
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            sys.stdout.write("\n")
            return None
        if not sys.stdin.isatty():
            # Piped answers are not echoed by a terminal; echo them so the transcript reads as a conversation.
            sys.stdout.write(line if line.endswith("\n") else line + "\n")
        return line.rstrip("\n")

    simulate(
        flow,
        context,
        caller=args.caller,
        read=read,
        write=print,
        answer=SampleLookups(outcomes=dict(args.lookup)),
    )
    return 0


def _graph(args: argparse.Namespace) -> int:
    flow = _load(args.flow)
    if flow is None:
        return 1
    sys.stdout.write(to_mermaid(flow, args.language))
    if args.svg is None:
        return 0
    dot = shutil.which("dot")
    if dot is None:
        print("Graphviz is not installed (no `dot` on PATH); printed Mermaid only", file=sys.stderr)
        return 1
    # The command is a fixed executable found on PATH with fixed options; only the output path comes from the user.
    done = subprocess.run(  # noqa: S603
        [dot, "-Tsvg", "-o", args.svg],
        input=to_dot(flow, args.language),
        text=True,
        capture_output=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        print(f"dot failed: {done.stderr.strip()}", file=sys.stderr)
        return 1
    return 0
