"""What an IVR flow is made of: nodes, prompts in several languages, conditions and voices.

A flow is plain, immutable data built by `ivr.loader` from YAML. The interpreter walks it, `ivr.check` judges it and
`ivr.graph` draws it, so none of them needs to know YAML. Node ids are the targets every `next`/`goto` names.
Source positions live beside the data (`SourceMap`) so error messages can name a file and line without every
field carrying one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

__all__ = [
    "CASE_NUMBER_PREFIX",
    "CASE_NUMBER_WIDTH",
    "LOOKUP_KINDS",
    "TIERS",
    "BranchNode",
    "Checksum",
    "CollectNode",
    "Condition",
    "EnqueueNode",
    "Flow",
    "HangupNode",
    "LookupKind",
    "LookupNode",
    "MenuNode",
    "MenuOption",
    "Node",
    "OpeningHours",
    "PlayNode",
    "Retry",
    "Rule",
    "SayNode",
    "SkillRequirement",
    "SourceMap",
    "Text",
    "Tier",
    "Voice",
    "VoicemailNode",
    "node_targets",
]

Tier = Literal["low", "sub", "potential", "high"]
#: Customer value tiers, lowest first (the routing engine's words for customer value).
TIERS: tuple[Tier, ...] = ("low", "sub", "potential", "high")

LookupKind = Literal["case_status", "next_visit", "callback"]
#: Self-service actions whose answer the app supplies (see `ivr.interpreter` for the protocol).
LOOKUP_KINDS: tuple[LookupKind, ...] = ("case_status", "next_visit", "callback")

# Case numbers are shown as CS-000123 but typed as digits on a keypad: the flow collects "123" or "000123" and
# the interpreter writes the canonical form, so the app's lookup receives what the case store prints.
CASE_NUMBER_PREFIX = "CS-"
CASE_NUMBER_WIDTH = 6

#: A checksum hook for collected digits: true when the digits are acceptable.
Checksum = Callable[[str], bool]


class OpeningHours(Protocol):
    """What a flow needs from a business calendar (`routing.calendar.BusinessCalendar` provides it)."""

    def is_open(self, at: datetime) -> bool:
        """Tell whether the instant falls inside opening hours."""
        ...


@dataclass(frozen=True)
class Voice:
    """How one language is spoken and heard: Twilio's voice name and language codes."""

    #: Twilio `<Say voice>`, e.g. "Polly.Joanna-Neural" or "Google.cmn-CN-Standard-A".
    voice: str
    #: Twilio `<Say language>`; Polly's Mandarin voices want "cmn-CN".
    say_language: str
    #: Twilio `<Gather language>` for speech recognition; Mandarin is "cmn-Hans-CN".
    speech_language: str


@dataclass(frozen=True)
class Text:
    """One thing said to the caller, with a variant per language code (e.g. "en-US", "zh-CN")."""

    variants: Mapping[str, str]

    def in_language(self, language: str, fallback: str) -> str:
        """Return the variant for `language`, else the fallback language's, else any (never fail mid-call)."""
        if language in self.variants:
            return self.variants[language]
        if fallback in self.variants:
            return self.variants[fallback]
        return next(iter(self.variants.values()), "")


@dataclass(frozen=True)
class Retry:
    """What a menu or digit prompt does when the caller says nothing or something it cannot use."""

    #: Said before the prompt is repeated after a time-out; None repeats the prompt alone.
    no_input: Text | None
    #: Said before the prompt is repeated after an unusable answer.
    invalid: Text | None
    #: How many times the prompt is offered in all, the first time included.
    max_attempts: int
    #: Where the caller goes after the last attempt fails.
    on_failure: str
    #: Said once the attempts are used up, before moving on.
    failure: Text | None = None


@dataclass(frozen=True)
class SayNode:
    """Speak a text, then go on."""

    id: str
    text: Text
    next: str


@dataclass(frozen=True)
class PlayNode:
    """Play a recording (one URL per language), then go on."""

    id: str
    audio: Text
    next: str


@dataclass(frozen=True)
class MenuOption:
    """One choice: a key to press and/or words to say, and where it leads."""

    digits: str | None
    #: Words per language; the option matches when the recognised speech contains one of them.
    words: Mapping[str, tuple[str, ...]]
    goto: str
    #: Switch the call to this language when chosen ("for Mandarin, press 9").
    language: str | None = None


@dataclass(frozen=True)
class MenuNode:
    """Offer choices through `<Gather>` (keys and speech) and follow the one the caller makes."""

    id: str
    prompt: Text
    options: tuple[MenuOption, ...]
    retry: Retry
    timeout: int = 5
    speech: bool = True


@dataclass(frozen=True)
class CollectNode:
    """Ask for a number on the keypad (or spoken), check it and keep it in a call variable."""

    id: str
    prompt: Text
    save_as: str
    next: str
    retry: Retry
    #: "case_number" turns "123" into "CS-000123"; "digits" keeps what was typed.
    format: Literal["digits", "case_number"] = "digits"
    min_length: int = 1
    max_length: int = 20
    #: A regular expression the digits must match in full.
    pattern: str | None = None
    #: Name of a checksum hook (see `Flow.checksums`).
    checksum: str | None = None
    finish_on_key: str = "#"
    timeout: int = 5
    speech: bool = True


@dataclass(frozen=True)
class Condition:
    """A test on the call; every field that is set must hold (an empty condition always holds)."""

    #: Calendar names that must be open now.
    open: str | None = None
    #: Calendar names that must be closed now.
    closed: str | None = None
    tiers: frozenset[Tier] | None = None
    languages: frozenset[str] | None = None
    known: bool | None = None


@dataclass(frozen=True)
class Rule:
    """Go to `goto` when `when` holds."""

    when: Condition
    goto: str


@dataclass(frozen=True)
class BranchNode:
    """Follow the first rule whose condition holds, else `otherwise`."""

    id: str
    rules: tuple[Rule, ...]
    otherwise: str


@dataclass(frozen=True)
class LookupNode:
    """Ask the app for something only it knows (case status, next visit) or to do something (callback)."""

    id: str
    kind: LookupKind
    next: str
    error: str
    #: Where to go when nothing was found; None goes to `error`.
    not_found: str | None = None
    #: Call variable holding the case number (case_status only).
    case_number_from: str | None = None
    #: Queue that should call back (callback only).
    queue: str | None = None
    #: Prefix for the result's fields in call variables: `{case.status}` with save_as "case".
    save_as: str = ""


@dataclass(frozen=True)
class SkillRequirement:
    """An agent skill a queued call needs, at a minimum level (1 = basic)."""

    name: str
    level: int = 1


@dataclass(frozen=True)
class EnqueueNode:
    """Put the caller in a queue for a person, with the skills, priority and language the routing engine needs."""

    id: str
    queue: str
    skills: tuple[SkillRequirement, ...] = ()
    priority: int = 0
    #: Language the agent must speak; None means the call's language at the time.
    language: str | None = None
    text: Text | None = None
    #: Where a caller goes who leaves the queue without an agent (queue full, time-out); None hangs up.
    on_exit: str | None = None


@dataclass(frozen=True)
class VoicemailNode:
    """Record a message for the case after a prompt, then say goodbye and hang up."""

    id: str
    prompt: Text
    max_length: int = 120
    goodbye: Text | None = None


@dataclass(frozen=True)
class HangupNode:
    """End the call, after an optional goodbye."""

    id: str
    text: Text | None = None


Node = SayNode | PlayNode | MenuNode | CollectNode | BranchNode | LookupNode | EnqueueNode | VoicemailNode | HangupNode


@dataclass(frozen=True)
class SourceMap:
    """Where things were written: the file, each node's line and the line of each of its fields."""

    file: str = "<flow>"
    nodes: Mapping[str, int] = field(default_factory=dict)
    #: (node id, field path such as "next" or "options.1.goto") -> line.
    fields: Mapping[tuple[str, str], int] = field(default_factory=dict)
    top: Mapping[str, int] = field(default_factory=dict)

    def line(self, node_id: str, path: str | None = None) -> int:
        """Return the best known line for a node's field (the node's own line when the field has none)."""
        if path is not None:
            # A field inside a list or mapping may be unmarked; walk up to the nearest marked parent.
            parts = path.split(".")
            while parts:
                found = self.fields.get((node_id, ".".join(parts)))
                if found is not None:
                    return found
                parts.pop()
        return self.nodes.get(node_id, 0)


_DEFAULT_ERROR = Text(
    {
        "en-US": "Sorry, something went wrong. Please call again later. Goodbye.",
        "zh-CN": "抱歉，系统出现问题。请稍后再拨。再见。",  # noqa: RUF001 - Chinese punctuation
    }
)


@dataclass(frozen=True)
class Flow:
    """A whole IVR flow: its nodes, where it starts, the languages it speaks and the calendars it asks."""

    name: str
    start: str
    default_language: str
    languages: Mapping[str, Voice]
    nodes: Mapping[str, Node]
    calendars: Mapping[str, OpeningHours] = field(default_factory=dict)
    checksums: Mapping[str, Checksum] = field(default_factory=dict)
    #: Said when the flow itself is broken at run time (a missing node); the call then ends politely.
    error_text: Text = _DEFAULT_ERROR
    source: SourceMap = field(default_factory=SourceMap)

    def voice(self, language: str) -> Voice:
        """Return the voice for a language, falling back to the default language's."""
        return self.languages.get(language) or self.languages[self.default_language]

    def texts(self) -> Iterator[tuple[str, str, Text]]:
        """Yield (node id, field path, text) for every translatable text, including menu words."""
        yield "", "error", self.error_text
        for node in self.nodes.values():
            yield from _node_texts(node)


def _node_texts(node: Node) -> Iterator[tuple[str, str, Text]]:
    match node:
        case SayNode():
            yield node.id, "text", node.text
        case PlayNode():
            yield node.id, "audio", node.audio
        case MenuNode() | CollectNode():
            yield node.id, "prompt", node.prompt
            for name in ("no_input", "invalid", "failure"):
                text = getattr(node.retry, name)
                if text is not None:
                    yield node.id, name, text
        case EnqueueNode() | HangupNode():
            if node.text is not None:
                yield node.id, "text", node.text
        case VoicemailNode():
            yield node.id, "prompt", node.prompt
            if node.goodbye is not None:
                yield node.id, "goodbye", node.goodbye
        case BranchNode() | LookupNode():
            pass


def node_targets(node: Node) -> list[tuple[str, str]]:
    """Return (field path, target node id) for every edge leaving a node, in reading order."""
    match node:
        case SayNode() | PlayNode():
            return [("next", node.next)]
        case MenuNode():
            edges = [(f"options.{i}.goto", option.goto) for i, option in enumerate(node.options)]
            return [*edges, ("on_failure", node.retry.on_failure)]
        case CollectNode():
            return [("next", node.next), ("on_failure", node.retry.on_failure)]
        case BranchNode():
            edges = [(f"rules.{i}.goto", rule.goto) for i, rule in enumerate(node.rules)]
            return [*edges, ("otherwise", node.otherwise)]
        case LookupNode():
            edges = [("next", node.next)]
            if node.not_found is not None:
                edges.append(("not_found", node.not_found))
            return [*edges, ("error", node.error)]
        case EnqueueNode():
            return [] if node.on_exit is None else [("on_exit", node.on_exit)]
        case VoicemailNode() | HangupNode():
            return []
