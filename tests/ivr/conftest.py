"""Shared fixtures: the example flows, callers as personas, and a `Call` that plays the app's part."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.actions import Action, Enqueue, Gather, Hangup, Lookup, Say
from ivr.events import CallerHungUp, CallStarted, Digits, Event, LookupResult, NoInput, Speech
from ivr.loader import load_flow
from ivr.models import Flow
from ivr.simulator import drive
from ivr.state import CallContext, CallState

EXAMPLES = Path(__file__).resolve().parents[2] / "ivr" / "examples"

# 23 November 2026 is a Monday; London is on GMT, so UTC wall times are London wall times.
MONDAY_MORNING = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
MONDAY_NIGHT = datetime(2026, 11, 23, 19, 30, tzinfo=UTC)
CHRISTMAS_MORNING = datetime(2026, 12, 25, 10, 0, tzinfo=UTC)

ALICE = "+447700900001"  # known, high value, English
WEI = "+8613800000002"  # known, Mandarin
STRANGER = "+447700900999"  # not a customer


@pytest.fixture(scope="session")
def main_menu() -> Flow:
    return load_flow(EXAMPLES / "main_menu.yaml")


def persona(name: str, now: datetime = MONDAY_MORNING) -> CallContext:
    """Return the app's view of a named caller at `now`."""
    match name:
        case "alice":
            return CallContext(now=now, known=True, customer_name="Alice", tier="high", language="en-US")
        case "wei":
            return CallContext(now=now, known=True, customer_name="王伟", tier="low", language="zh-CN")
        case "stranger":
            return CallContext(now=now)
    raise ValueError(name)


Answer = Callable[[Lookup], LookupResult]


@dataclass
class Call:
    """One call driven the way the app drives it: lookups answered inside the step that asked for them."""

    flow: Flow
    context: CallContext
    caller: str | None = ALICE
    answers: Mapping[str, tuple[str, Mapping[str, str]]] = field(default_factory=dict)
    state: CallState = field(init=False)
    lookups: list[Lookup] = field(default_factory=list)
    last: list[Action] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = CallState.begin(self.flow, call_sid="CA0001", caller=self.caller)

    def answer(self, lookup: Lookup) -> LookupResult:
        self.lookups.append(lookup)
        outcome, data = self.answers.get(lookup.kind, ("ok", {}))
        return LookupResult(lookup.key, outcome, data)  # type: ignore[arg-type]

    def send(self, event: Event) -> list[Action]:
        shown, self.state = drive(self.flow, self.state, event, self.context, self.answer)
        self.last = [a for a in shown if not isinstance(a, LookupResult | Lookup)]
        return self.last

    def start(self) -> list[Action]:
        return self.send(CallStarted())

    def press(self, digits: str) -> list[Action]:
        return self.send(Digits(digits))

    def speak(self, words: str) -> list[Action]:
        return self.send(Speech(words))

    def silence(self) -> list[Action]:
        return self.send(NoInput())

    def hang_up(self) -> list[Action]:
        return self.send(CallerHungUp())

    def heard(self) -> list[str]:
        """Return the words of the last step, prompts inside a Gather included."""
        words: list[str] = []
        for action in self.last:
            if isinstance(action, Say):
                words.append(action.text)
            elif isinstance(action, Gather):
                words.extend(p.text for p in action.prompts if isinstance(p, Say))
        return words

    def queue(self) -> Enqueue:
        queued = [a for a in self.last if isinstance(a, Enqueue)]
        assert queued, f"not queued: {self.last}"
        return queued[-1]

    def hung_up(self) -> bool:
        return any(isinstance(a, Hangup) for a in self.last)
