"""What happens to a call, as the interpreter hears it: keys, words, silence, answers from the app.

The app translates each Twilio webhook (and each answer to a `Lookup`) into one of these before calling
`ivr.interpreter.step`, so the interpreter never sees form fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CallStarted",
    "CallerHungUp",
    "Digits",
    "Event",
    "LookupResult",
    "NoInput",
    "QueueLeft",
    "RecordingDone",
    "Speech",
]


@dataclass(frozen=True)
class CallStarted:
    """The incoming-call webhook: run the flow from its start."""


@dataclass(frozen=True)
class Digits:
    """Keys pressed in answer to a `Gather` (Twilio's `Digits`); empty means nothing was pressed."""

    digits: str


@dataclass(frozen=True)
class Speech:
    """Words recognised in answer to a `Gather` (Twilio's `SpeechResult`)."""

    text: str


@dataclass(frozen=True)
class NoInput:
    """The `Gather` timed out without keys or words."""


@dataclass(frozen=True)
class LookupResult:
    """The app's answer to a `Lookup`, echoing its key.

    `outcome` is "ok" (found, or done for a callback), "not_found" (nothing for this caller, including a case
    that belongs to someone else) or "error" (the store could not answer). `data` holds fields the flow's texts
    may read as `{<save_as>.<field>}`, e.g. {"status": "waiting for parts"}.
    """

    key: str
    outcome: Literal["ok", "not_found", "error"]
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordingDone:
    """The `Record` finished (Twilio's `RecordingUrl` and `RecordingDuration`)."""

    url: str
    duration: int


@dataclass(frozen=True)
class QueueLeft:
    """The caller left the queue (Twilio's `QueueResult` on the `<Enqueue action>` callback).

    "bridged", "bridging-in-process", "redirected" and "hangup" end the flow; "leave" (the app's word for
    "take the caller out": a long wait, the last workflow step), "queue-full", "error" and "system-error" go to
    the enqueue node's `on_exit`.
    """

    result: str


@dataclass(frozen=True)
class CallerHungUp:
    """The call-status callback says the caller is gone."""


Event = CallStarted | Digits | Speech | NoInput | LookupResult | RecordingDone | QueueLeft | CallerHungUp
