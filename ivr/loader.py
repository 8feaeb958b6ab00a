"""Read IVR flows from YAML, naming the file and line of every mistake.

The YAML is composed into nodes (which keep their marks) and read field by field, rather than loaded into plain
dicts, so a wrong type, a misspelt key or a bad calendar is reported where it was written. Structure is checked
here; how the nodes connect (dangling targets, unreachable nodes, loops) is `ivr.check`'s job, so that a flow
with several such problems reports all of them at once.

Format (see `ivr/examples/main_menu.yaml` for a whole flow)::

    flow: main_menu              # name
    start: entry                 # first node
    default_language: en-US
    languages:                   # every text needs a variant per language listed here
      en-US: {voice: Polly.Joanna-Neural}
      zh-CN: {voice: Polly.Zhiyu-Neural, say_language: cmn-CN, speech_language: cmn-Hans-CN}
    calendars:                   # routing.calendar.BusinessCalendar.from_mapping
      support: {time_zone: Europe/London, hours: {mon: ["09:00-17:00"]}, holidays: ["2026-12-25"]}
    error: {en-US: ..., zh-CN: ...}   # optional: said when the flow breaks at run time
    nodes:
      entry: {type: branch, rules: [{when: {closed: support}, goto: closed}], otherwise: menu}
      ...

Node types and their keys:

- ``say``: text, next. ``play``: audio (URL, or URL per language), next.
- ``menu``: prompt, options (list of {digits, words: {lang: [..]}, goto, language}), timeout, speech,
  no_input, invalid, failure, max_attempts, on_failure.
- ``collect``: prompt, save_as, next, format (digits | case_number), length | min_length + max_length,
  pattern, checksum, finish_on_key, timeout, speech, and the retry keys of ``menu``.
- ``branch``: rules (list of {when: {open, closed, tier, language, known}, goto}), otherwise.
- ``lookup``: kind (case_status | next_visit | callback), next, not_found, error, case_number_from, queue, save_as.
- ``enqueue``: queue, skills ({name: level} or [name]), priority, language, text, on_exit.
- ``voicemail``: prompt, max_length, goodbye. ``hangup``: text.

A text is a mapping from language code to words; a bare string counts as the default language's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn, cast

import yaml

from ivr.digits import BUILTIN_CHECKSUMS
from ivr.models import (
    LOOKUP_KINDS,
    TIERS,
    BranchNode,
    Checksum,
    CollectNode,
    Condition,
    EnqueueNode,
    Flow,
    HangupNode,
    LookupKind,
    LookupNode,
    MenuNode,
    MenuOption,
    Node,
    OpeningHours,
    PlayNode,
    Retry,
    Rule,
    SayNode,
    SkillRequirement,
    SourceMap,
    Text,
    Tier,
    Voice,
    VoicemailNode,
)
from routing.calendar import BusinessCalendar, CalendarError

__all__ = ["LoadError", "load_flow", "parse_flow"]

_MISSING: Any = object()


class LoadError(ValueError):
    """A flow file that cannot be read, with the file and line where the problem was written."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message


def load_flow(path: str | Path, *, checksums: Mapping[str, Checksum] | None = None) -> Flow:
    """Read a flow from a YAML file; `checksums` replaces the built-in checksum hooks when given."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LoadError(str(path), 0, f"cannot read: {exc.strerror or exc}") from exc
    return parse_flow(text, file=str(path), checksums=checksums)


def parse_flow(text: str, *, file: str = "<flow>", checksums: Mapping[str, Checksum] | None = None) -> Flow:
    """Build a flow from YAML text; `file` names it in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise LoadError(file, line, f"not valid YAML: {exc.problem or exc}") from exc
    if root is None:
        raise LoadError(file, 1, "the file is empty")
    return _FlowReader(file, dict(BUILTIN_CHECKSUMS if checksums is None else checksums)).flow(root)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Fields:
    """The keys of one YAML mapping, read once each, with unknown keys reported as mistakes."""

    def __init__(self, reader: _FlowReader, node: yaml.Node, owner: str, prefix: str, what: str) -> None:
        self.reader = reader
        self.node = node
        self.owner = owner
        self.prefix = prefix
        self.items = reader.mapping(node, what)
        self.used: set[str] = set()

    def fail(self, key: str, message: str) -> NoReturn:
        target = self.items.get(key, self.node)
        self.reader.fail(target, message)

    def get(self, key: str) -> yaml.Node | None:
        self.used.add(key)
        value = self.items.get(key)
        if value is not None:
            self.reader.field_lines[(self.owner, self.prefix + key)] = self.reader.entry_line(value)
        return value

    def require(self, key: str) -> yaml.Node:
        value = self.get(key)
        if value is None:
            self.reader.fail(self.node, f"missing key {key!r}")
        return value

    def string(self, key: str, default: Any = _MISSING) -> Any:
        value = self.get(key) if default is not _MISSING else self.require(key)
        if value is None:
            return default
        plain = self.reader.plain(value)
        # Keys such as 1 or 2 are natural in YAML; read them as the strings a keypad sends.
        if isinstance(plain, bool) or not isinstance(plain, str | int):
            self.reader.fail(value, f"{key!r} must be a string")
        return str(plain)

    def integer(self, key: str, default: int, minimum: int = 0) -> int:
        value = self.get(key)
        if value is None:
            return default
        plain = self.reader.plain(value)
        if isinstance(plain, bool) or not isinstance(plain, int) or plain < minimum:
            self.reader.fail(value, f"{key!r} must be a whole number of at least {minimum}")
        return plain

    def boolean(self, key: str, default: bool | None) -> bool | None:
        value = self.get(key)
        if value is None:
            return default
        plain = self.reader.plain(value)
        if not isinstance(plain, bool):
            self.reader.fail(value, f"{key!r} must be true or false")
        return plain

    def text(self, key: str, required: bool = True) -> Text | None:
        value = self.require(key) if required else self.get(key)
        return None if value is None else self.reader.text(value, key)

    def choice(self, key: str, allowed: tuple[str, ...], default: Any = _MISSING) -> Any:
        value = self.string(key, default)
        if value not in allowed and value is not default:
            self.fail(key, f"{key!r} must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def done(self) -> None:
        for key, value in self.items.items():
            if key not in self.used:
                self.reader.fail(value, f"unknown key {key!r}")


class _FlowReader:
    """Turns a composed YAML tree into a `Flow`, remembering where each part was written."""

    def __init__(self, file: str, checksums: dict[str, Checksum]) -> None:
        self.file = file
        self.checksums = checksums
        self.constructor = yaml.SafeLoader("")
        self.node_lines: dict[str, int] = {}
        self.field_lines: dict[tuple[str, str], int] = {}
        self.top_lines: dict[str, int] = {}
        self.default_language = ""
        # Line of the key each mapping value was written under; a block value starts a line later.
        self.key_lines: dict[int, int] = {}

    def fail(self, node: yaml.Node, message: str) -> NoReturn:
        raise LoadError(self.file, _line(node), message)

    def entry_line(self, value: yaml.Node) -> int:
        return self.key_lines.get(id(value), _line(value))

    def plain(self, node: yaml.Node) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            self.fail(node, f"cannot read value: {exc.problem}")

    def mapping(self, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping")
        items: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.plain(key_node)
            if not isinstance(key, str | int) or isinstance(key, bool):
                self.fail(key_node, f"keys in {what} must be strings")
            key = str(key)
            # PyYAML keeps the last of two equal keys without a word; two nodes with one id is a real mistake.
            if key in items:
                self.fail(key_node, f"duplicate key {key!r} in {what}")
            items[key] = value_node
            self.key_lines[id(value_node)] = _line(key_node)
        return items

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{what} must be a list")
        return list(node.value)

    def words_of(self, node: yaml.Node, what: str) -> str:
        # Words are read as written: YAML 1.1 would otherwise turn "yes", "no" or "on" into booleans.
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            self.fail(node, f"{what} must be non-empty words")
        return str(node.value)

    def text(self, node: yaml.Node, what: str) -> Text:
        if isinstance(node, yaml.ScalarNode):
            return Text({self.default_language: self.words_of(node, what)})
        variants: dict[str, str] = {}
        for language, value_node in self.mapping(node, what).items():
            variants[language] = self.words_of(value_node, f"{what} in {language}")
        if not variants:
            self.fail(node, f"{what} has no words in any language")
        return Text(variants)

    def flow(self, root: yaml.Node) -> Flow:
        top = _Fields(self, root, "", "", "a flow")
        self.default_language = top.string("default_language", "en-US")
        languages = self.languages(top.require("languages"))
        if self.default_language not in languages:
            top.fail("default_language", f"default language {self.default_language!r} is not in languages")
        name = top.string("flow")
        start = top.string("start")
        calendars_node = top.get("calendars")
        calendars = {} if calendars_node is None else self.calendars(calendars_node)
        error_node = top.get("error")
        nodes_node = top.require("nodes")
        top.done()
        nodes: dict[str, Node] = {}
        for node_id, node in self.mapping(nodes_node, "nodes").items():
            self.node_lines[node_id] = self.entry_line(node)
            nodes[node_id] = self.node(node_id, node)
        for key in ("start", "languages", "calendars", "nodes", "flow", "error", "default_language"):
            if key in top.items:
                self.top_lines[key] = self.entry_line(top.items[key])
        extra: dict[str, Any] = {}
        if error_node is not None:
            extra["error_text"] = self.text(error_node, "error")
        return Flow(
            name=name,
            start=start,
            default_language=self.default_language,
            languages=languages,
            nodes=nodes,
            calendars=calendars,
            checksums=self.checksums,
            source=SourceMap(self.file, self.node_lines, self.field_lines, self.top_lines),
            **extra,
        )

    def languages(self, node: yaml.Node) -> dict[str, Voice]:
        voices: dict[str, Voice] = {}
        for code, value in self.mapping(node, "languages").items():
            fields = _Fields(self, value, "", f"languages.{code}.", f"language {code}")
            voice = fields.string("voice")
            voices[code] = Voice(
                voice=voice,
                say_language=fields.string("say_language", code),
                speech_language=fields.string("speech_language", code),
            )
            fields.done()
        if not voices:
            self.fail(node, "a flow needs at least one language")
        return voices

    def calendars(self, node: yaml.Node) -> dict[str, OpeningHours]:
        calendars: dict[str, OpeningHours] = {}
        for name, value in self.mapping(node, "calendars").items():
            raw = self.plain(value)
            if not isinstance(raw, Mapping):
                self.fail(value, f"calendar {name!r} must be a mapping")
            try:
                calendars[name] = BusinessCalendar.from_mapping(raw)
            except CalendarError as exc:
                self.fail(value, f"calendar {name!r}: {exc}")
        return calendars

    def node(self, node_id: str, node: yaml.Node) -> Node:
        fields = _Fields(self, node, node_id, "", f"node {node_id!r}")
        kind = fields.choice("type", tuple(_BUILDERS))
        built = _BUILDERS[kind](self, node_id, fields)
        fields.done()
        return built

    def retry(self, fields: _Fields) -> Retry:
        return Retry(
            no_input=fields.text("no_input", required=False),
            invalid=fields.text("invalid", required=False),
            failure=fields.text("failure", required=False),
            max_attempts=fields.integer("max_attempts", 3, minimum=1),
            on_failure=fields.string("on_failure"),
        )

    def say(self, node_id: str, fields: _Fields) -> Node:
        return SayNode(node_id, cast(Text, fields.text("text")), fields.string("next"))

    def play(self, node_id: str, fields: _Fields) -> Node:
        return PlayNode(node_id, cast(Text, fields.text("audio")), fields.string("next"))

    def menu(self, node_id: str, fields: _Fields) -> Node:
        options = []
        seen_digits: set[str] = set()
        for index, option_node in enumerate(self.sequence(fields.require("options"), "options")):
            option = _Fields(self, option_node, node_id, f"options.{index}.", "a menu option")
            digits = option.string("digits", None)
            if digits is not None:
                if not digits or any(c not in "0123456789*#" for c in digits):
                    option.fail("digits", f"digits {digits!r} are not keypad keys")
                if digits in seen_digits:
                    option.fail("digits", f"two options use digits {digits!r}")
                seen_digits.add(digits)
            words = self.words(option.get("words"))
            if digits is None and not words:
                self.fail(option_node, "a menu option needs digits or words")
            options.append(MenuOption(digits, words, option.string("goto"), option.string("language", None)))
            option.done()
        if not options:
            fields.fail("options", "a menu needs at least one option")
        return MenuNode(
            node_id,
            prompt=cast(Text, fields.text("prompt")),
            options=tuple(options),
            retry=self.retry(fields),
            timeout=fields.integer("timeout", 5, minimum=1),
            speech=bool(fields.boolean("speech", True)),
        )

    def words(self, node: yaml.Node | None) -> dict[str, tuple[str, ...]]:
        if node is None:
            return {}
        words: dict[str, tuple[str, ...]] = {}
        for language, value in self.mapping(node, "words").items():
            items = value.value if isinstance(value, yaml.SequenceNode) else [value]
            raw = [self.words_of(item, f"words in {language}") for item in items]
            if not raw:
                self.fail(value, f"words in {language} must be a list of words")
            words[language] = tuple(w.strip().casefold() for w in raw)
        return words

    def collect(self, node_id: str, fields: _Fields) -> Node:
        fmt = fields.choice("format", ("digits", "case_number"), "digits")
        length_node = fields.get("length")
        if length_node is not None:
            length = fields.integer("length", 1, minimum=1)
            min_length = max_length = length
        else:
            min_length = fields.integer("min_length", 1, minimum=1)
            max_length = fields.integer("max_length", 6 if fmt == "case_number" else 20, minimum=1)
        if min_length > max_length:
            fields.fail("max_length", "max_length is less than min_length")
        pattern = fields.string("pattern", None)
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                fields.fail("pattern", f"pattern is not a regular expression: {exc}")
        checksum = fields.string("checksum", None)
        if checksum is not None and checksum not in self.checksums:
            known = ", ".join(sorted(self.checksums)) or "none"
            fields.fail("checksum", f"unknown checksum {checksum!r} (known: {known})")
        finish = fields.string("finish_on_key", "#")
        if finish not in ("", "#", "*") and not (len(finish) == 1 and finish.isdigit()):
            fields.fail("finish_on_key", "finish_on_key must be one key")
        return CollectNode(
            node_id,
            prompt=cast(Text, fields.text("prompt")),
            save_as=fields.string("save_as"),
            next=fields.string("next"),
            retry=self.retry(fields),
            format=fmt,
            min_length=min_length,
            max_length=max_length,
            pattern=pattern,
            checksum=checksum,
            finish_on_key=finish,
            timeout=fields.integer("timeout", 5, minimum=1),
            speech=bool(fields.boolean("speech", True)),
        )

    def branch(self, node_id: str, fields: _Fields) -> Node:
        rules = []
        for index, rule_node in enumerate(self.sequence(fields.require("rules"), "rules")):
            rule = _Fields(self, rule_node, node_id, f"rules.{index}.", "a rule")
            rules.append(Rule(self.condition(rule, rule.require("when")), rule.string("goto")))
            rule.done()
        return BranchNode(node_id, tuple(rules), fields.string("otherwise"))

    def condition(self, rule: _Fields, node: yaml.Node) -> Condition:
        fields = _Fields(self, node, rule.owner, rule.prefix + "when.", "a condition")
        tiers = self.names(fields, "tier")
        for tier in tiers or ():
            if tier not in TIERS:
                fields.fail("tier", f"unknown tier {tier!r}; use {', '.join(TIERS)}")
        languages = self.names(fields, "language")
        condition = Condition(
            open=fields.string("open", None),
            closed=fields.string("closed", None),
            tiers=None if tiers is None else cast(frozenset[Tier], frozenset(tiers)),
            languages=None if languages is None else frozenset(languages),
            known=fields.boolean("known", None),
        )
        fields.done()
        return condition

    def names(self, fields: _Fields, key: str) -> list[str] | None:
        node = fields.get(key)
        if node is None:
            return None
        raw = self.plain(node)
        raw = [raw] if isinstance(raw, str) else raw
        if not isinstance(raw, list) or not raw or not all(isinstance(v, str) for v in raw):
            self.fail(node, f"{key!r} must be a name or a list of names")
        return [str(v) for v in raw]

    def lookup(self, node_id: str, fields: _Fields) -> Node:
        kind = cast(LookupKind, fields.choice("kind", LOOKUP_KINDS))
        case_number_from = fields.string("case_number_from", None)
        if kind == "case_status" and case_number_from is None:
            fields.fail("kind", "a case_status lookup needs case_number_from (the variable holding the number)")
        return LookupNode(
            node_id,
            kind=kind,
            next=fields.string("next"),
            error=fields.string("error"),
            not_found=fields.string("not_found", None),
            case_number_from=case_number_from,
            queue=fields.string("queue", None),
            save_as=fields.string("save_as", kind),
        )

    def enqueue(self, node_id: str, fields: _Fields) -> Node:
        return EnqueueNode(
            node_id,
            queue=fields.string("queue"),
            skills=self.skills(fields.get("skills")),
            priority=fields.integer("priority", 0),
            language=fields.string("language", None),
            text=fields.text("text", required=False),
            on_exit=fields.string("on_exit", None),
        )

    def skills(self, node: yaml.Node | None) -> tuple[SkillRequirement, ...]:
        if node is None:
            return ()
        if isinstance(node, yaml.SequenceNode):
            names = [self.plain(item) for item in node.value]
            if not all(isinstance(n, str) for n in names):
                self.fail(node, "skills must be names, or a mapping of name to level")
            return tuple(SkillRequirement(n) for n in names)
        skills = []
        for name, value in self.mapping(node, "skills").items():
            level = self.plain(value)
            if isinstance(level, bool) or not isinstance(level, int) or level < 1:
                self.fail(value, f"skill {name!r} needs a level of at least 1")
            skills.append(SkillRequirement(name, level))
        return tuple(skills)

    def voicemail(self, node_id: str, fields: _Fields) -> Node:
        return VoicemailNode(
            node_id,
            prompt=cast(Text, fields.text("prompt")),
            max_length=fields.integer("max_length", 120, minimum=1),
            goodbye=fields.text("goodbye", required=False),
        )

    def hangup(self, node_id: str, fields: _Fields) -> Node:
        return HangupNode(node_id, fields.text("text", required=False))


_BUILDERS: dict[str, Callable[[_FlowReader, str, _Fields], Node]] = {
    "say": _FlowReader.say,
    "play": _FlowReader.play,
    "menu": _FlowReader.menu,
    "collect": _FlowReader.collect,
    "branch": _FlowReader.branch,
    "lookup": _FlowReader.lookup,
    "enqueue": _FlowReader.enqueue,
    "voicemail": _FlowReader.voicemail,
    "hangup": _FlowReader.hangup,
}
