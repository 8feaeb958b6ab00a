"""Turn the interpreter's actions into TwiML for Twilio, and Twilio's webhook forms back into events.

Kept apart from the interpreter so the decisions can be tested without XML and the XML without a flow. Every
URL is built from the base the app passes in (its `PUBLIC_BASE_URL` plus the voice webhook prefix), because
Twilio signs requests with the exact URL it called; waiting verbs carry `turn` in the query string so a retried
webhook is recognised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from twilio.twiml.voice_response import Gather as GatherVerb
from twilio.twiml.voice_response import VoiceResponse

from ivr.actions import Action, Enqueue, Gather, Hangup, Lookup, Play, Record, Say, StoreVoicemail
from ivr.events import CallerHungUp, Digits, Event, NoInput, QueueLeft, RecordingDone, Speech

__all__ = ["Webhook", "Webhooks", "event_from_form", "render"]

Webhook = Literal["gather", "recording", "queue_exit", "status"]

# Twilio's CallStatus values after which nobody is on the line.
_FINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


@dataclass(frozen=True)
class Webhooks:
    """Paths under the base URL that Twilio is sent to after each waiting verb."""

    #: Keys or words from a `<Gather>`, and the redirect that follows a silent one.
    gather: str = "gather"
    #: The finished voicemail `<Record>`.
    recording: str = "recording"
    #: Hold music and queue position while the caller waits (`<Enqueue waitUrl>`).
    queue_wait: str = "queue-wait"
    #: The caller left the queue (`<Enqueue action>`).
    queue_exit: str = "queue-exit"


def render(actions: Iterable[Action], base_url: str, webhooks: Webhooks | None = None) -> str:
    """Return the TwiML document for a step's actions; app-side actions other than `Lookup` are skipped."""
    paths = webhooks or Webhooks()
    response = VoiceResponse()
    for action in actions:
        match action:
            case Say():
                response.say(action.text, voice=action.voice, language=action.language)
            case Play():
                response.play(action.url)
            case Gather():
                _gather(response, action, _url(base_url, paths.gather, turn=action.turn))
            case Record():
                response.record(
                    action=_url(base_url, paths.recording, turn=action.turn),
                    method="POST",
                    max_length=action.max_length,
                    finish_on_key=action.finish_on_key,
                    play_beep=True,
                )
            case Enqueue():
                response.enqueue(
                    action.queue,
                    action=_url(base_url, paths.queue_exit, turn=action.turn),
                    method="POST",
                    wait_url=_url(base_url, paths.queue_wait, queue=action.queue, language=action.language),
                    wait_url_method="POST",
                )
            case Hangup():
                response.hangup()
            case Lookup():
                # The lookup protocol: the app answers every Lookup before rendering (see ivr.interpreter).
                raise ValueError(f"unanswered {action.kind} lookup {action.key!r}; answer it before rendering")
            case StoreVoicemail():
                pass
    return str(response)


def _gather(response: VoiceResponse, action: Gather, url: str) -> None:
    options: dict[str, object] = {
        "input": "dtmf speech" if action.speech else "dtmf",
        "action": url,
        "method": "POST",
        "timeout": action.timeout,
        "finish_on_key": action.finish_on_key,
    }
    if action.num_digits is not None:
        options["num_digits"] = action.num_digits
    if action.speech:
        options["language"] = action.speech_language
        if action.hints:
            options["hints"] = ", ".join(action.hints)
    gather: GatherVerb = response.gather(**options)
    for prompt in action.prompts:
        if isinstance(prompt, Say):
            gather.say(prompt.text, voice=prompt.voice, language=prompt.language)
        else:
            gather.play(prompt.url)
    # A <Gather> that hears nothing falls through to the next verb; sending the caller back to the same webhook
    # without Digits or SpeechResult is how the app learns of the silence (NoInput).
    response.redirect(url, method="POST")


def _url(base_url: str, path: str, **query: object) -> str:
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}?{urlencode(query)}"


def event_from_form(webhook: Webhook, form: Mapping[str, str]) -> Event | None:
    """Return the event a (signature-checked) webhook form carries, or None when it carries none.

    `webhook` names which of the `Webhooks` paths (or the call-status callback) Twilio called.
    """
    match webhook:
        case "gather":
            # Speech wins when both are present: Twilio fills Digits only for key presses.
            speech = form.get("SpeechResult", "").strip()
            if speech:
                return Speech(speech)
            digits = form.get("Digits", "").strip()
            return Digits(digits) if digits else NoInput()
        case "recording":
            duration = form.get("RecordingDuration", "0")
            return RecordingDone(form.get("RecordingUrl", ""), int(duration) if duration.isdigit() else 0)
        case "queue_exit":
            return QueueLeft(form.get("QueueResult", "error"))
        case "status":
            return CallerHungUp() if form.get("CallStatus") in _FINAL_CALL_STATUSES else None
