"""What the interpreter asks for: words and sounds for the caller, and work for the app.

Actions are plain frozen data. `ivr.twiml` turns the caller-facing ones into TwiML; the app carries out the rest
(`Lookup`, `StoreVoicemail`) and, for a `Lookup`, feeds the answer back to the interpreter (see
`ivr.interpreter`). Every action that waits for Twilio to call back carries the call's `turn`, which the webhook
URL repeats so the app can tell a retried webhook from a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.models import LookupKind, SkillRequirement

__all__ = [
    "Action",
    "Enqueue",
    "Gather",
    "Hangup",
    "Lookup",
    "Play",
    "Record",
    "Say",
    "StoreVoicemail",
    "Verb",
]


@dataclass(frozen=True)
class Say:
    """Speak words with a Twilio voice."""

    text: str
    voice: str
    language: str


@dataclass(frozen=True)
class Play:
    """Play a recording."""

    url: str


@dataclass(frozen=True)
class Gather:
    """Play prompts while listening for keys (and speech), then post what was heard for this turn."""

    prompts: tuple[Say | Play, ...]
    turn: int
    speech: bool
    #: Twilio's speech-recognition language, e.g. "en-US" or "cmn-Hans-CN".
    speech_language: str
    hints: tuple[str, ...] = ()
    #: Stop after this many keys; None waits for `finish_on_key` or the time-out.
    num_digits: int | None = None
    finish_on_key: str = "#"
    timeout: int = 5


@dataclass(frozen=True)
class Record:
    """Record a voicemail and post it for this turn."""

    turn: int
    max_length: int
    finish_on_key: str = "#"


@dataclass(frozen=True)
class Enqueue:
    """Hold the caller in a queue until the routing engine finds an agent with these skills."""

    queue: str
    turn: int
    skills: tuple[SkillRequirement, ...]
    priority: int
    #: Language the agent must speak.
    language: str


@dataclass(frozen=True)
class Hangup:
    """End the call."""


@dataclass(frozen=True)
class Lookup:
    """Ask the app to look something up (or book a callback) and answer with `ivr.events.LookupResult`.

    Always the last action of a step. `key` identifies this request; the answer must echo it, and the app can
    use it as an idempotency key (a retried webhook must not book two callbacks).
    """

    kind: LookupKind
    key: str
    #: The caller's language, for texts the app puts in the answer (a case status in Chinese).
    language: str
    #: The caller's number as Twilio gave it (E.164); None when withheld.
    caller: str | None
    #: Canonical case number (case_status only), e.g. "CS-000123".
    case_number: str | None = None
    #: Queue that should call back (callback only).
    queue: str | None = None


@dataclass(frozen=True)
class StoreVoicemail:
    """Attach the caller's recording to their case (the app downloads it from Twilio)."""

    recording_url: str
    duration: int
    language: str


#: Actions that become TwiML.
Verb = Say | Play | Gather | Record | Enqueue | Hangup
Action = Verb | Lookup | StoreVoicemail
