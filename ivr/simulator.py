"""Walk a call through a flow in a terminal (or a test): what the caller hears, what they answer, where they end.

The simulator plays the app's part: it answers lookups with sample data (or the outcomes asked for), turns typed
lines into Twilio-like events and stops once the flow has handed the caller to a queue or ended the call. Reading
and writing go through the two callables passed in, so tests drive it with lists and the CLI with the terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ivr.actions import Action, Enqueue, Gather, Hangup, Lookup, Play, Record, Say, StoreVoicemail
from ivr.events import (
    CallerHungUp,
    CallStarted,
    Digits,
    Event,
    LookupResult,
    NoInput,
    RecordingDone,
    Speech,
)
from ivr.interpreter import step
from ivr.models import Flow, LookupKind
from ivr.state import CallContext, CallState

__all__ = ["Ending", "SampleLookups", "drive", "simulate"]

#: Reads one answer after showing a prompt; None means the caller hung up.
Reader = Callable[[str], str | None]
Writer = Callable[[str], None]
Answerer = Callable[[Lookup], LookupResult]

_SAMPLE_DATA: Mapping[LookupKind, Mapping[str, str]] = {
    "case_status": {"status": "in progress, an engineer is working on it", "subject": "Boiler not heating"},
    "next_visit": {"date": "Tuesday 1 December", "window": "9 and 11 in the morning", "technician": "Sam"},
    "callback": {},
}


@dataclass(frozen=True)
class SampleLookups:
    """Answer lookups like a helpful store: "ok" with sample data, unless an outcome is set for the kind."""

    outcomes: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[LookupKind, Mapping[str, str]] = field(default_factory=lambda: dict(_SAMPLE_DATA))

    def __call__(self, lookup: Lookup) -> LookupResult:
        """Return the answer for one lookup."""
        outcome = self.outcomes.get(lookup.kind, "ok")
        if outcome == "not_found":
            return LookupResult(lookup.key, "not_found")
        if outcome == "error":
            return LookupResult(lookup.key, "error")
        return LookupResult(lookup.key, "ok", self.data.get(lookup.kind, {}))


def drive(
    flow: Flow, state: CallState, event: Event, context: CallContext, answer: Answerer
) -> tuple[list[Action | LookupResult], CallState]:
    """Step, answering lookups as the app would; return every action and answer in order, and the state."""
    shown: list[Action | LookupResult] = []
    actions, state = step(flow, state, event, context)
    while actions and isinstance(actions[-1], Lookup):
        lookup = actions[-1]
        result = answer(lookup)
        shown.extend((*actions, result))
        actions, state = step(flow, state, result, context)
    shown.extend(actions)
    return shown, state


@dataclass(frozen=True)
class Ending:
    """Where the simulated caller ended up."""

    state: CallState
    #: The queue the caller waits in, when the flow handed them to a person.
    queue: Enqueue | None = None

    def describe(self) -> str:
        """Say in one line where the caller ended up."""
        if self.queue is not None:
            skills = ", ".join(f"{s.name} (level {s.level})" for s in self.queue.skills) or "none"
            return (
                f"queue {self.queue.queue} with skills {skills}, priority {self.queue.priority}, "
                f"language {self.queue.language}"
            )
        match self.state.outcome:
            case "voicemail":
                return "voicemail (message left)"
            case "caller_hung_up":
                return f"caller hung up at {self.state.node}"
            case "error":
                return f"flow error at {self.state.node}"
        return f"hung up by the flow at {self.state.node}"


def simulate(
    flow: Flow,
    context: CallContext,
    *,
    caller: str | None,
    read: Reader,
    write: Writer,
    answer: Answerer | None = None,
) -> Ending:
    """Run one call: show each action, read the caller's answers, and return where the call ended."""
    answer = answer or SampleLookups()
    state = CallState.begin(flow, call_sid="CAsimulated", caller=caller)
    event: Event = CallStarted()
    queued: Enqueue | None = None
    while True:
        shown, state = drive(flow, state, event, context, answer)
        for item in shown:
            _show(item, write)
            if isinstance(item, Enqueue):
                queued = item
        if state.ended or state.phase == "queue":
            break
        event = _recording(read("message (empty: none)> ")) if state.phase == "recording" else _event(read("> "))
    ending = Ending(state, queued if state.phase == "queue" else None)
    write(f"Caller ended up: {ending.describe()}")
    return ending


def _recording(line: str | None) -> Event:
    # A typed message stands for the recording; its length in words stands for its duration in seconds.
    if line is None:
        return CallerHungUp()
    return RecordingDone("sim://recording", len(line.split()))


def _event(line: str | None) -> Event:
    if line is None:
        return CallerHungUp()
    line = line.strip()
    if not line:
        return NoInput()
    if all(c in "0123456789*#" for c in line):
        return Digits(line)
    return Speech(line)


def _show(item: Action | LookupResult, write: Writer) -> None:
    match item:
        case Say():
            write(f"  [{item.language}] {item.text}")
        case Play():
            write(f"  [audio] {item.url}")
        case Gather():
            for prompt in item.prompts:
                _show(prompt, write)
            listening = "keys or words" if item.speech else "keys"
            write(f"  (listening for {listening}; an empty line is silence, end of input hangs up)")
        case Record():
            write(f"  (recording up to {item.max_length} s after the beep)")
        case Enqueue():
            write(f"  (queued in {item.queue})")
        case Hangup():
            write("  (call ends)")
        case Lookup():
            subject = item.case_number or item.queue or item.caller or "the caller"
            write(f"  [app] {item.kind} lookup for {subject}")
        case LookupResult():
            details = ", ".join(f"{k}: {v}" for k, v in item.data.items())
            write(f"  [app] answer: {item.outcome}" + (f" ({details})" if details else ""))
        case StoreVoicemail():
            write(f"  [app] voicemail stored ({item.duration} s)")
