"""TwiML rendering, judged by parsing the XML rather than comparing strings."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

import pytest

from ivr.actions import Action, Enqueue, Gather, Hangup, Lookup, Play, Record, Say, StoreVoicemail
from ivr.events import CallerHungUp, Digits, NoInput, QueueLeft, RecordingDone, Speech
from ivr.models import Flow, SkillRequirement
from ivr.twiml import Webhooks, event_from_form, render

from .conftest import Call, persona

BASE = "https://cc.example.com/twilio/voice/"


def parse(actions: Sequence[Action]) -> ET.Element:
    root = ET.fromstring(render(actions, BASE))  # noqa: S314 - our own output
    assert root.tag == "Response"
    return root


def test_menu_is_a_gather_with_speech_and_a_silence_redirect(main_menu: Flow) -> None:
    call = Call(main_menu, persona("wei"))
    root = parse(call.start())
    say, gather, redirect = list(root)
    assert (say.tag, say.get("voice"), say.get("language")) == ("Say", "Polly.Zhiyu-Neural", "cmn-CN")
    assert say.text == "王伟，您好，感谢致电 Acme 客户服务。"  # noqa: RUF001
    assert gather.tag == "Gather"
    assert gather.attrib == {
        "input": "dtmf speech",
        "action": "https://cc.example.com/twilio/voice/gather?turn=1",
        "method": "POST",
        "timeout": "5",
        "finishOnKey": "",
        "numDigits": "1",
        "language": "cmn-Hans-CN",
        "hints": gather.get("hints", ""),
    }
    assert "状态" in gather.get("hints", "")
    assert [child.tag for child in gather] == ["Say"]
    assert (redirect.tag, redirect.text, redirect.get("method")) == ("Redirect", gather.get("action"), "POST")


def test_digits_only_gather_without_fixed_length() -> None:
    gather = Gather(
        prompts=(Play("https://cdn.example.com/enter.mp3"),),
        turn=4,
        speech=False,
        speech_language="en-US",
        finish_on_key="#",
        timeout=8,
    )
    element = parse([gather])[0]
    assert element.get("input") == "dtmf"
    assert element.get("numDigits") is None
    assert element.get("language") is None
    assert element.get("finishOnKey") == "#"
    assert element[0].tag == "Play"
    assert element[0].text == "https://cdn.example.com/enter.mp3"


def test_enqueue_waits_with_position_in_the_callers_language() -> None:
    enqueue = Enqueue("technical", 3, (SkillRequirement("technical", 2),), 5, "zh-CN")
    element = parse([Say("正在为您转接技术支持。", "Polly.Zhiyu-Neural", "cmn-CN"), enqueue])[1]
    assert element.tag == "Enqueue"
    assert element.text == "technical"
    assert element.get("action") == f"{BASE}queue-exit?turn=3"
    assert element.get("waitUrl") == f"{BASE}queue-wait?queue=technical&language=zh-CN"
    assert element.get("waitUrlMethod") == "POST"


def test_voicemail_records_then_the_app_stores_it() -> None:
    root = parse([Say("Leave a message", "Polly.Joanna-Neural", "en-US"), Record(turn=2, max_length=120)])
    record = root[1]
    assert record.tag == "Record"
    assert record.get("action") == f"{BASE}recording?turn=2"
    assert (record.get("maxLength"), record.get("playBeep"), record.get("finishOnKey")) == ("120", "true", "#")

    ending = parse([StoreVoicemail("https://api.twilio.com/rec/RE1", 9, "en-US"), Hangup()])
    assert [child.tag for child in ending] == ["Hangup"]


def test_custom_webhook_paths() -> None:
    xml = render([Record(turn=7, max_length=60)], "https://cc.example.com/ivr", Webhooks(recording="/vm"))
    assert ET.fromstring(xml)[0].get("action") == "https://cc.example.com/ivr/vm?turn=7"  # noqa: S314


def test_unanswered_lookup_cannot_be_rendered() -> None:
    with pytest.raises(ValueError, match="unanswered case_status lookup"):
        render([Lookup("case_status", "CA/1/x/1", "en-US", None, "CS-000001")], BASE)


def test_nothing_to_say_is_an_empty_response() -> None:
    assert list(parse([])) == []


@pytest.mark.parametrize(
    ("webhook", "form", "event"),
    [
        ("gather", {"Digits": "1", "CallSid": "CA1"}, Digits("1")),
        ("gather", {"SpeechResult": "case status", "Confidence": "0.9"}, Speech("case status")),
        ("gather", {"Digits": ""}, NoInput()),
        ("gather", {}, NoInput()),
        (
            "recording",
            {"RecordingUrl": "https://api.twilio.com/rec/RE1", "RecordingDuration": "12"},
            RecordingDone("https://api.twilio.com/rec/RE1", 12),
        ),
        ("recording", {"RecordingUrl": "", "RecordingDuration": "-1"}, RecordingDone("", 0)),
        ("queue_exit", {"QueueResult": "bridged"}, QueueLeft("bridged")),
        ("status", {"CallStatus": "completed"}, CallerHungUp()),
        ("status", {"CallStatus": "in-progress"}, None),
    ],
)
def test_webhook_forms_become_events(webhook: str, form: dict[str, str], event: object) -> None:
    assert event_from_form(webhook, form) == event  # type: ignore[arg-type]
