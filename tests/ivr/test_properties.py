"""Property: no sequence of events crashes the interpreter or takes a call out of its flow."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.actions import Action, Lookup
from ivr.events import (
    CallerHungUp,
    CallStarted,
    Digits,
    Event,
    LookupResult,
    NoInput,
    QueueLeft,
    RecordingDone,
    Speech,
)
from ivr.interpreter import step
from ivr.loader import load_flow
from ivr.models import TIERS, MenuNode
from ivr.state import CallContext, CallState
from ivr.twiml import render

from .conftest import EXAMPLES

FLOW = load_flow(EXAMPLES / "main_menu.yaml")
WORDS = sorted(
    {
        w
        for node in FLOW.nodes.values()
        if isinstance(node, MenuNode)
        for o in node.options
        for ws in o.words.values()
        for w in ws
    }
)

# An event may depend on the call so far: an answer to the lookup it is waiting for needs that lookup's key.
MakeEvent = Callable[[tuple[Action, ...]], Event]


def _answer(outcome: str, data: dict[str, str]) -> MakeEvent:
    def make(last: tuple[Action, ...]) -> Event:
        key = last[-1].key if last and isinstance(last[-1], Lookup) else "CA/stale"
        return LookupResult(key, outcome, data)  # type: ignore[arg-type]

    return make


def _fixed(event: Event) -> MakeEvent:
    return lambda _last: event


events = st.one_of(
    st.text("0123456789*#", max_size=8).map(lambda d: _fixed(Digits(d))),
    st.text(max_size=12).map(lambda d: _fixed(Digits(d))),
    st.one_of(st.sampled_from(WORDS), st.text(max_size=20), st.just("one two three")).map(lambda s: _fixed(Speech(s))),
    st.just(_fixed(NoInput())),
    st.builds(
        _answer,
        st.sampled_from(["ok", "not_found", "error"]),
        st.dictionaries(st.sampled_from(["status", "date", "window"]), st.text(max_size=10), max_size=3),
    ),
    st.builds(lambda url, s: _fixed(RecordingDone(url, s)), st.sampled_from(["", "https://r/1"]), st.integers(0, 300)),
    st.one_of(
        st.sampled_from(["bridged", "hangup", "leave", "queue-full", "error", "redirected"]), st.text(max_size=5)
    ).map(lambda r: _fixed(QueueLeft(r))),
    st.just(_fixed(CallStarted())),
    st.just(_fixed(CallerHungUp())),
)
contexts = st.builds(
    CallContext,
    now=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
    known=st.booleans(),
    customer_name=st.one_of(st.none(), st.text(max_size=8)),
    tier=st.sampled_from([None, *TIERS]),
    language=st.sampled_from([None, "en-US", "zh-CN", "fr-FR"]),
    calendars=st.dictionaries(st.sampled_from(["support", "elsewhere"]), st.booleans(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(context=contexts, script=st.lists(events, max_size=25))
def test_no_event_sequence_crashes_or_leaves_the_flow(context: CallContext, script: list[MakeEvent]) -> None:
    state = CallState.begin(FLOW, call_sid="CAprop", caller="+447700900001")
    last, state = step(FLOW, state, CallStarted(), context)
    for make in script:
        event = make(last)
        actions, next_state = step(FLOW, state, event, context)
        # Same state and event, same answer: a retried webhook is served identically.
        assert step(FLOW, state, event, context) == (actions, next_state)
        assert next_state.turn >= state.turn
        state, last = next_state, actions
        assert state.node in FLOW.nodes
        assert state.ended == (state.outcome is not None)
        assert CallState.from_json(json.loads(json.dumps(state.to_json()))) == state
        lookups = [i for i, a in enumerate(actions) if isinstance(a, Lookup)]
        assert lookups in ([], [len(actions) - 1])
        assert (state.phase == "lookup") == bool(lookups)
        if not lookups:
            render(actions, "https://cc.example.com/twilio/voice")
