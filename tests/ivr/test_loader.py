"""Reading flows: the example loads, and every mistake is reported with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.loader import LoadError, load_flow, parse_flow
from ivr.models import CollectNode, EnqueueNode, Flow, MenuNode, SayNode, SkillRequirement, Text

HEADER = """\
flow: tiny
start: hello
default_language: en-US
languages:
  en-US: {voice: Polly.Joanna-Neural}
  zh-CN: {voice: Polly.Zhiyu-Neural, say_language: cmn-CN, speech_language: cmn-Hans-CN}
nodes:
"""  # nodes start on line 8


def load(nodes: str, header: str = HEADER) -> Flow:
    return parse_flow(header + nodes, file="tiny.yaml")


def test_example_flow_loads(main_menu: Flow) -> None:
    assert main_menu.start == "entry"
    assert set(main_menu.languages) == {"en-US", "zh-CN"}
    assert main_menu.languages["zh-CN"].say_language == "cmn-CN"
    assert main_menu.languages["en-US"].speech_language == "en-US"
    menu = main_menu.nodes["main_menu"]
    assert isinstance(menu, MenuNode)
    assert menu.options[0].digits == "1"
    assert menu.options[0].words["zh-CN"] == ("状态", "案件")
    ask_case = main_menu.nodes["ask_case"]
    assert isinstance(ask_case, CollectNode)
    assert (ask_case.format, ask_case.max_length) == ("case_number", 6)
    queue = main_menu.nodes["technical_mandarin_queue"]
    assert isinstance(queue, EnqueueNode)
    assert queue.skills == (SkillRequirement("technical", 2), SkillRequirement("mandarin", 1))
    assert main_menu.source.line("main_menu") == 52


def test_bare_text_is_the_default_language_and_words_stay_words() -> None:
    flow = load(
        """\
  hello: {type: say, text: Hello, next: menu}
  menu:
    type: menu
    prompt: Say yes or no
    options:
      - {words: {en-US: [yes, on]}, goto: bye}
      - {digits: 2, words: {en-US: "no"}, goto: bye}
    on_failure: bye
  bye: {type: hangup}
"""
    )
    hello = flow.nodes["hello"]
    assert isinstance(hello, SayNode)
    assert hello.text == Text({"en-US": "Hello"})
    menu = flow.nodes["menu"]
    assert isinstance(menu, MenuNode)
    # YAML 1.1 reads yes/on/no as booleans; the loader keeps what was written.
    assert menu.options[0].words == {"en-US": ("yes", "on")}
    assert menu.options[1].words == {"en-US": ("no",)}
    assert menu.options[1].digits == "2"


@pytest.mark.parametrize(
    ("nodes", "line", "message"),
    [
        ("  hello: {type: sing, next: x}\n", 8, "'type' must be one of"),
        ("  hello: {type: say, text: Hi, next: x, colour: red}\n", 8, "unknown key 'colour'"),
        ("  hello: {type: say, next: x}\n", 8, "missing key 'text'"),
        ("  hello:\n    type: say\n    text: {en-US: Hi}\n    next: [a, b]\n", 11, "'next' must be a string"),
        ("  hello: {type: say, text: Hi, next: x}\n  hello: {type: hangup}\n", 9, "duplicate key 'hello'"),
        (
            "  hello:\n    type: collect\n    prompt: Number\n    save_as: n\n    next: x\n    on_failure: x\n"
            "    checksum: crc32\n",
            14,
            "unknown checksum 'crc32'",
        ),
        (
            "  hello:\n    type: collect\n    prompt: Number\n    save_as: n\n    next: x\n    on_failure: x\n"
            "    min_length: 5\n    max_length: 3\n",
            15,
            "max_length is less than min_length",
        ),
        (
            "  hello:\n    type: menu\n    prompt: Pick\n    on_failure: x\n    options:\n"
            "      - {digits: '1', goto: x}\n      - {digits: '1', goto: y}\n",
            14,
            "two options use digits '1'",
        ),
        (
            "  hello:\n    type: branch\n    otherwise: x\n    rules:\n      - when: {tier: gold}\n        goto: x\n",
            12,
            "unknown tier 'gold'",
        ),
        ("  hello: {type: enqueue, queue: q, skills: {billing: 0}}\n", 8, "skill 'billing' needs a level"),
        ("  hello: {type: lookup, kind: case_status, next: x, error: y}\n", 8, "needs case_number_from"),
        ("  hello: {type: say, text: '  ', next: x}\n", 8, "non-empty words"),
        ("  hello: {type: say, text: {en-US: Hi, next: x}\n", 9, "not valid YAML"),
    ],
)
def test_mistakes_name_file_and_line(nodes: str, line: int, message: str) -> None:
    with pytest.raises(LoadError) as raised:
        load(nodes)
    assert (raised.value.file, raised.value.line) == ("tiny.yaml", line)
    assert message in raised.value.message
    assert str(raised.value).startswith(f"tiny.yaml:{line}: ")


def test_bad_calendar_names_its_line() -> None:
    header = HEADER.replace("nodes:\n", "calendars:\n  office:\n    time_zone: Mars/Olympus\nnodes:\n")
    with pytest.raises(LoadError, match=r"tiny.yaml:9: calendar 'office': unknown time zone"):
        load("  hello: {type: hangup}\n", header)


def test_default_language_must_be_spoken() -> None:
    with pytest.raises(LoadError, match=r"tiny.yaml:3: default language 'fr-FR'"):
        load("  hello: {type: hangup}\n", HEADER.replace("default_language: en-US", "default_language: fr-FR"))


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(LoadError, match=r"empty\.yaml:1: the file is empty"):
        load_flow(empty)
    with pytest.raises(LoadError, match="cannot read"):
        load_flow(tmp_path / "absent.yaml")


def test_app_checksums_replace_the_built_in_ones() -> None:
    nodes = (
        "  hello:\n    type: collect\n    prompt: Number\n    save_as: n\n    next: x\n    on_failure: x\n"
        "    checksum: even\n"
    )
    flow = parse_flow(HEADER + nodes, checksums={"even": lambda digits: int(digits) % 2 == 0})
    assert set(flow.checksums) == {"even"}
