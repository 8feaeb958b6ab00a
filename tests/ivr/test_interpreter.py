"""Whole calls through the example main menu, and the rules the interpreter keeps on every step."""

# Mandarin prompts use full-width punctuation, which is correct there.
# ruff: noqa: RUF001

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ivr.actions import Enqueue, Gather, Hangup, Lookup, Record, Say, StoreVoicemail
from ivr.events import CallStarted, Digits, LookupResult, NoInput, QueueLeft, RecordingDone, Speech
from ivr.interpreter import step
from ivr.loader import parse_flow
from ivr.models import Flow, SkillRequirement
from ivr.state import CallContext, CallState, StateError

from .conftest import (
    CHRISTMAS_MORNING,
    MONDAY_MORNING,
    MONDAY_NIGHT,
    STRANGER,
    WEI,
    Call,
    persona,
)


def test_known_caller_gets_case_status_read_back(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice"), answers={"case_status": ("ok", {"status": "waiting for parts"})})

    call.start()
    assert call.heard()[0] == "Hello Alice, thank you for calling Acme Support."
    assert isinstance(call.last[-1], Gather)
    assert call.last[-1].num_digits == 1

    call.press("1")
    assert "case number" in call.heard()[0]

    call.press("123")
    assert call.lookups == [
        Lookup(
            kind="case_status",
            key=call.lookups[0].key,
            language="en-US",
            caller="+447700900001",
            case_number="CS-000123",
        )
    ]
    assert call.heard()[0] == "Case CS-000123: waiting for parts."
    # Back at the main menu, waiting for the next choice.
    assert call.state.node == "main_menu"
    assert call.state.phase == "input"


def test_unknown_case_is_not_read_back(main_menu: Flow) -> None:
    call = Call(main_menu, persona("stranger"), caller=STRANGER, answers={"case_status": ("not_found", {})})
    call.start()
    assert call.heard()[0] == "Thank you for calling Acme Support."
    call.press("1")
    call.press("000999")
    assert call.heard()[0] == "I couldn't find case CS-000999 for this phone number."
    assert call.state.node == "main_menu"


def test_lookup_failure_sends_the_caller_to_a_person(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice"), answers={"next_visit": ("error", {})})
    call.start()
    call.speak("when is my technician visit")
    assert call.heard() == ["Sorry, I can't look that up right now."]
    assert call.queue().queue == "general"


def test_next_visit_is_read_in_mandarin(main_menu: Flow) -> None:
    visit = {"date": "12月1日星期二", "window": "上午9点到11点"}
    call = Call(main_menu, persona("wei"), caller=WEI, answers={"next_visit": ("ok", visit)})
    call.start()
    assert call.heard()[0] == "王伟，您好，感谢致电 Acme 客户服务。"
    gather = call.last[-1]
    assert isinstance(gather, Gather)
    assert gather.speech_language == "cmn-Hans-CN"
    assert gather.prompts[0] == Say(gather.prompts[0].text, "Polly.Zhiyu-Neural", "cmn-CN")  # type: ignore[union-attr]

    call.speak("我想查询上门服务")
    assert call.lookups[0].kind == "next_visit"
    assert call.lookups[0].language == "zh-CN"
    assert call.heard()[0] == "您的下次上门服务时间是 12月1日星期二，上午9点到11点。"


def test_invalid_choices_are_retried_with_their_own_prompt_then_handed_to_a_person(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice"))
    call.start()

    call.press("7")
    assert call.heard() == ["Sorry, that is not one of the choices.", call.heard()[1]]
    assert call.heard()[1].startswith("For the status of a case")
    assert call.state.attempt == 1

    call.speak("tell me a joke")
    assert call.heard()[0] == "Sorry, that is not one of the choices."

    call.press("6")
    assert call.heard()[0] == "Let me put you through to someone who can help."
    assert call.queue() == Enqueue("general", call.state.turn, (SkillRequirement("general", 1),), 0, "en-US")


def test_silence_is_retried_with_the_no_input_prompt(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice"))
    call.start()
    call.silence()
    assert call.heard()[0] == "Sorry, I didn't hear anything."
    call.send(Digits(""))
    assert call.heard()[0] == "Sorry, I didn't hear anything."
    call.silence()
    assert call.queue().queue == "general"


def test_invalid_case_numbers_are_retried(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice"))
    call.start()
    call.press("1")
    call.press("1234567")
    assert call.heard()[0].startswith("That doesn't look like a case number.")
    call.press("0")
    assert call.heard()[0].startswith("That doesn't look like a case number.")
    call.press("0")
    assert call.heard()[0] == "Let me put you through to someone who can help."
    assert call.lookups == []


def test_spoken_case_number(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice"), answers={"case_status": ("ok", {"status": "closed"})})
    call.start()
    call.speak("case status")
    call.speak("one two three")
    assert call.lookups[0].case_number == "CS-000123"


def test_after_hours_caller_leaves_a_voicemail(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice", MONDAY_NIGHT))
    call.start()
    assert call.heard()[0].startswith("Our lines are closed.")
    assert call.heard()[1].startswith("Please leave a message")
    assert isinstance(call.last[-1], Record)
    assert call.state.phase == "recording"

    call.send(RecordingDone("https://api.twilio.com/rec/RE1", 17))
    assert call.last == [
        StoreVoicemail("https://api.twilio.com/rec/RE1", 17, "en-US"),
        Say("Thank you for your message. Goodbye.", "Polly.Joanna-Neural", "en-US"),
        Hangup(),
    ]
    assert call.state.outcome == "voicemail"


def test_holidays_are_after_hours(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice", CHRISTMAS_MORNING))
    call.start()
    assert call.state.node == "voicemail"


def test_supervisor_override_closes_the_lines(main_menu: Flow) -> None:
    context = replace(persona("alice"), calendars={"support": False})
    call = Call(main_menu, context)
    call.start()
    assert call.state.node == "voicemail"


def test_empty_recording_is_not_stored(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice", MONDAY_NIGHT))
    call.start()
    call.send(RecordingDone("", 0))
    assert not any(isinstance(a, StoreVoicemail) for a in call.last)
    assert call.state.outcome == "hangup"


def test_high_value_billing_callers_get_priority(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice"))
    call.start()
    call.press("3")
    call.press("12345678")  # fails the Luhn check: one retry allowed
    assert call.heard()[0] == "That account number isn't valid."
    call.press("12345674")
    assert call.state.variables["account_number"] == "12345674"
    assert call.queue() == Enqueue("billing", call.state.turn, (SkillRequirement("billing", 3),), 10, "en-US")


def test_low_value_billing_callers_queue_normally_after_failed_account(main_menu: Flow) -> None:
    call = Call(main_menu, persona("stranger"), caller=STRANGER)
    call.start()
    call.speak("I have a question about my bill")
    call.silence()
    call.press("11111111")
    assert call.queue().priority == 0
    assert "account_number" not in call.state.variables


def test_mandarin_technical_callers_need_a_mandarin_speaker(main_menu: Flow) -> None:
    call = Call(main_menu, persona("stranger"), caller=STRANGER)
    call.start()
    call.press("9")
    assert call.state.language == "zh-CN"
    assert call.heard()[0].startswith("查询案件状态")
    call.speak("技术支持")
    queued = call.queue()
    assert queued.language == "zh-CN"
    assert SkillRequirement("mandarin", 1) in queued.skills
    assert call.heard() == ["正在为您转接技术支持。"]


def test_callback_request_is_booked_once_and_the_call_ends(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice"))
    call.start()
    call.press("5")
    assert [(lk.kind, lk.queue, lk.caller) for lk in call.lookups] == [("callback", "technical", "+447700900001")]
    assert call.hung_up()
    assert call.state.outcome == "hangup"


def test_leaving_the_queue_without_an_agent_goes_to_voicemail(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice"))
    call.start()
    call.press("4")
    assert call.state.phase == "queue"
    call.send(QueueLeft("leave"))
    assert call.state.node == "voicemail"
    assert isinstance(call.last[-1], Record)


@pytest.mark.parametrize(
    ("result", "outcome"), [("bridged", "answered"), ("hangup", "caller_hung_up"), ("redirected", "transferred")]
)
def test_queue_endings(main_menu: Flow, result: str, outcome: str) -> None:
    call = Call(main_menu, persona("alice"))
    call.start()
    call.press("4")
    assert call.send(QueueLeft(result)) == []
    assert call.state.outcome == outcome


def test_caller_hanging_up_ends_the_flow_where_it_was(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice"))
    call.start()
    call.press("1")
    assert call.hang_up() == []
    assert (call.state.node, call.state.outcome) == ("ask_case", "caller_hung_up")
    # A late webhook after the end only ever hangs up.
    assert call.press("1") == [Hangup()]


def test_same_state_and_event_give_the_same_step(main_menu: Flow) -> None:
    context = persona("alice")
    state = CallState.begin(main_menu, call_sid="CA1", caller="+447700900001")
    first, state = step(main_menu, state, CallStarted(), context)
    again = step(main_menu, state, Digits("1"), context)
    assert step(main_menu, state, Digits("1"), context) == again
    # The waiting verbs carry the turn a retried webhook repeats.
    assert isinstance(first[-1], Gather)
    assert first[-1].turn == state.turn == 1
    assert again[1].turn == 2


def test_lookup_answer_with_another_key_is_ignored(main_menu: Flow) -> None:
    context = persona("alice")
    state = CallState.begin(main_menu, call_sid="CA1", caller="+447700900001")
    _, state = step(main_menu, state, CallStarted(), context)
    _, state = step(main_menu, state, Digits("1"), context)
    actions, waiting = step(main_menu, state, Digits("42"), context)
    lookup = actions[-1]
    assert isinstance(lookup, Lookup)

    stale, still_waiting = step(main_menu, waiting, LookupResult("CA1/0/old/1", "ok", {}), context)
    assert stale == (lookup,)
    assert still_waiting == waiting
    keys, _ = step(main_menu, waiting, Digits("9"), context)
    assert keys == (lookup,)


def test_state_round_trips_through_json(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice"), answers={"case_status": ("ok", {"status": "open"})})
    call.start()
    call.press("1")
    call.press("123")
    text = json.dumps(call.state.to_json())
    assert CallState.from_json(json.loads(text)) == call.state


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"call_sid": "CA", "node": "x", "phase": "dancing"},
        {"call_sid": "CA", "node": "x", "phase": "new", "turn": -1},
    ],
)
def test_malformed_state_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(StateError):
        CallState.from_json(data)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CallContext(now=MONDAY_MORNING.replace(tzinfo=None))


BROKEN = """
flow: broken
start: hello
languages: {en-US: {voice: Polly.Joanna}}
nodes:
  hello: {type: say, text: Hi, next: ping}
  ping: {type: say, text: Ping, next: pong}
  pong: {type: branch, rules: [], otherwise: ping}
  menu:
    type: menu
    prompt: Choose
    options: [{digits: "1", goto: nowhere}]
    on_failure: menu
"""


def test_a_loop_that_never_waits_ends_the_call_politely() -> None:
    flow = parse_flow(BROKEN)
    actions, state = step(flow, CallState.begin(flow, call_sid="CA", caller=None), CallStarted(), persona("stranger"))
    assert actions[-2] == Say(flow.error_text.variants["en-US"], "Polly.Joanna", "en-US")
    assert actions[-1] == Hangup()
    assert (state.phase, state.outcome) == ("ended", "error")
    assert state.node in flow.nodes


def test_a_missing_node_ends_the_call_politely() -> None:
    flow = parse_flow(BROKEN.replace("start: hello", "start: menu"))
    _, state = step(flow, CallState.begin(flow, call_sid="CA", caller=None), CallStarted(), persona("stranger"))
    actions, state = step(flow, state, Digits("1"), persona("stranger"))
    assert actions[-1] == Hangup()
    assert (state.node, state.outcome) == ("menu", "error")


def test_unexpected_event_repeats_the_current_wait(main_menu: Flow) -> None:
    context = persona("alice")
    state = CallState.begin(main_menu, call_sid="CA1", caller="+447700900001")
    first, state = step(main_menu, state, CallStarted(), context)
    actions, again = step(main_menu, state, RecordingDone("x", 3), context)
    assert actions == (first[-1],)
    assert again == state
    _, after_silence = step(main_menu, state, NoInput(), context)
    assert after_silence.attempt == 1
    _, same = step(main_menu, state, Speech("   "), context)
    assert same == after_silence


def test_spoken_key_names_choose_options(main_menu: Flow) -> None:
    call = Call(main_menu, persona("alice"))
    call.start()
    call.speak("press four please")
    assert call.queue().queue == "technical"


def test_mandarin_spoken_case_number(main_menu: Flow) -> None:
    call = Call(main_menu, persona("wei"), caller=WEI, answers={"case_status": ("ok", {"status": "已解决"})})
    call.start()
    call.speak("案件状态")
    call.speak("四五六")
    assert call.lookups[0].case_number == "CS-000456"
    assert call.heard()[0] == "案件 CS-000456：已解决。"


def test_unsupported_preferred_language_falls_back_to_the_default(main_menu: Flow) -> None:
    context = replace(persona("alice"), language="fr-FR")
    call = Call(main_menu, context)
    call.start()
    assert call.state.language == "en-US"


def test_unknown_tier_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tier"):
        CallContext(now=MONDAY_MORNING, tier="gold")  # type: ignore[arg-type]
