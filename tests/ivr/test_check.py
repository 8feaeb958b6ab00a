"""`check_flow`: one test per kind of problem, each reported at the line where it was written."""

from __future__ import annotations

import pytest

from ivr.check import Problem, check_flow
from ivr.loader import parse_flow
from ivr.models import Flow

SKILLS = {"general", "billing", "technical", "mandarin"}
QUEUES = {"general", "billing", "technical"}

HEADER = """\
flow: faulty
start: hello
languages:
  en-US: {voice: Polly.Joanna-Neural}
  zh-CN: {voice: Polly.Zhiyu-Neural, say_language: cmn-CN}
calendars:
  office: {time_zone: UTC, hours: {mon: ["09:00-17:00"]}}
nodes:
"""  # nodes start on line 9


def problems(nodes: str, **known: set[str]) -> list[tuple[int, str]]:
    flow = parse_flow(HEADER + nodes, file="faulty.yaml")
    return [(p.line, p.code) for p in check_flow(flow, **known)]


BYE = "  bye: {type: hangup, text: {en-US: Bye, zh-CN: 再见}}\n"


def test_example_flow_is_clean(main_menu: Flow) -> None:
    assert check_flow(main_menu, skills=SKILLS, queues=QUEUES) == []


def test_dangling_target_names_the_field_line() -> None:
    nodes = "  hello:\n    type: say\n    text: {en-US: Hi, zh-CN: 你好}\n    next: nowhere\n" + BYE
    assert problems(nodes) == [(12, "dangling-target"), (13, "unreachable")]


def test_dangling_start() -> None:
    flow = parse_flow(HEADER.replace("start: hello", "start: nowhere") + BYE, file="faulty.yaml")
    # Without a start, "unreachable" would name every node; the one real problem is reported alone.
    assert check_flow(flow) == [Problem("faulty.yaml", 2, "dangling-target", "start node 'nowhere' does not exist")]


def test_unreachable_node() -> None:
    nodes = "  hello: {type: say, text: {en-US: Hi, zh-CN: 你好}, next: bye}\n" + BYE + "  orphan: {type: hangup}\n"
    assert problems(nodes) == [(11, "unreachable")]


def test_loop_with_no_exit() -> None:
    nodes = """\
  hello:
    type: menu
    prompt: {en-US: One or two, zh-CN: 一或二}
    options: [{digits: "1", goto: again}]
    on_failure: hello
  again:
    type: menu
    prompt: {en-US: Again, zh-CN: 再来}
    options: [{digits: "1", goto: hello}]
    on_failure: again
"""
    assert problems(nodes) == [(9, "loop-no-exit")]


def test_a_queue_is_a_way_out_of_a_loop() -> None:
    nodes = """\
  hello:
    type: menu
    prompt: {en-US: Press one, zh-CN: 请按一}
    options: [{digits: "1", goto: agents}]
    on_failure: hello
  agents: {type: enqueue, queue: general, on_exit: hello}
"""
    assert problems(nodes) == []


def test_loop_that_never_waits() -> None:
    nodes = (
        """\
  hello: {type: say, text: {en-US: Hi, zh-CN: 你好}, next: check}
  check:
    type: branch
    rules: [{when: {open: office}, goto: bye}]
    otherwise: hello
"""
        + BYE
    )
    assert problems(nodes) == [(9, "loop-no-wait")]


def test_unknown_queues_and_skills_are_checked_only_when_known_sets_are_given() -> None:
    nodes = """\
  hello:
    type: enqueue
    queue: sales
    skills: {billing: 1, juggling: 2}
"""
    assert problems(nodes) == []
    assert problems(nodes, skills=SKILLS, queues=QUEUES) == [(11, "unknown-queue"), (12, "unknown-skill")]


def test_missing_translations() -> None:
    nodes = (
        """\
  hello:
    type: menu
    prompt: {en-US: Press one}
    options:
      - {digits: "1", words: {en-US: [one]}, goto: bye}
    no_input: {zh-CN: 请按一}
    on_failure: bye
"""
        + BYE
    )
    found = problems(nodes)
    assert found == [(11, "missing-translation"), (13, "missing-translation"), (14, "missing-translation")]
    flow = parse_flow(HEADER + nodes, file="faulty.yaml")
    messages = [p.message for p in check_flow(flow)]
    assert "node 'hello' prompt has no zh-CN text" in messages
    assert "node 'hello' no_input has no en-US text" in messages
    assert "node 'hello' option 1 has no zh-CN words" in messages


def test_bare_text_lacks_the_other_languages() -> None:
    assert problems("  hello: {type: hangup, text: Bye}\n") == [(9, "missing-translation")]


def test_unknown_calendar_language_and_variable() -> None:
    nodes = (
        """\
  hello:
    type: branch
    rules:
      - when: {closed: warehouse}
        goto: bye
      - when: {language: fr-FR}
        goto: lookup
    otherwise: bye
  lookup: {type: lookup, kind: case_status, case_number_from: ticket, next: bye, error: bye}
"""
        + BYE
    )
    assert problems(nodes) == [(12, "unknown-calendar"), (14, "unknown-language"), (17, "unknown-variable")]


def test_problems_read_as_file_line_message() -> None:
    problem = Problem("faulty.yaml", 12, "dangling-target", "node 'hello' goes to 'nowhere', which does not exist")
    assert str(problem) == "faulty.yaml:12: node 'hello' goes to 'nowhere', which does not exist [dangling-target]"


@pytest.mark.parametrize("language", ["en-US", "zh-CN"])
def test_flow_error_text_needs_every_language(language: str) -> None:
    header = HEADER.replace("nodes:\n", f"error: {{{language}: Sorry}}\nnodes:\n")
    flow = parse_flow(header + BYE.replace("bye:", "hello:"), file="faulty.yaml")
    assert [(p.line, p.code) for p in check_flow(flow)] == [(8, "missing-translation")]
