"""The Twilio channel's own settings, beyond the credentials in `contact_center.settings.Settings`.

`options_from_env` is the one place these are read from the environment, until they join `Settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import ivr
from contact_center.settings import ConfigError

__all__ = ["DEFAULT_FLOW", "TwilioOptions", "options_from_env"]

DEFAULT_FLOW = Path(ivr.__file__).parent / "examples" / "main_menu.yaml"
# Twilio's own public hold music, the same its <Enqueue> plays when no waitUrl is given.
_HOLD_MUSIC = "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"


@dataclass(frozen=True)
class TwilioOptions:
    """How calls and texts are served."""

    #: The IVR flow every incoming call runs.
    flow_path: Path = DEFAULT_FLOW
    #: The number texts are sent from when a message does not name one (E.164); or use a Messaging Service.
    sms_from: str | None = None
    messaging_service_sid: str | None = None
    hold_music_url: str = _HOLD_MUSIC
    #: After this long in a queue, the caller is offered a callback instead of waiting on.
    callback_offer_seconds: int = 300
    #: A webhook that cannot reach the case store within this time gets the degraded answer; Twilio gives up
    #: on a webhook after 15 s, and the issue asks for an answer within 5 s.
    store_timeout: float = 3.0
    #: Queue (and skill) for callers answered while the case store is unreachable.
    fallback_queue: str = "general"
    #: The reply to HELP/INFO.
    help_text: str = "Acme Support: reply to this number to reach an agent. Reply STOP to opt out."
    #: How long a REST call to Twilio may take before it counts as a transient failure.
    rest_timeout: float = 10.0


def options_from_env(env: Mapping[str, str] | None = None) -> TwilioOptions:
    """Read the channel's options from environment variables (TWILIO_IVR_FLOW, TWILIO_SMS_FROM, ...)."""
    env = os.environ if env is None else env
    flow = Path(env["TWILIO_IVR_FLOW"]).expanduser() if env.get("TWILIO_IVR_FLOW") else DEFAULT_FLOW
    if not flow.is_file():
        raise ConfigError(f"TWILIO_IVR_FLOW {str(flow)!r} is not a file")
    raw_wait = env.get("TWILIO_CALLBACK_OFFER_SECONDS") or "300"
    if not raw_wait.isdigit() or int(raw_wait) < 1:
        raise ConfigError(f"TWILIO_CALLBACK_OFFER_SECONDS {raw_wait!r} must be a whole number of seconds, at least 1")
    return TwilioOptions(
        flow_path=flow,
        sms_from=env.get("TWILIO_SMS_FROM") or None,
        messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
        hold_music_url=env.get("TWILIO_HOLD_MUSIC_URL") or _HOLD_MUSIC,
        callback_offer_seconds=int(raw_wait),
        help_text=env.get("TWILIO_SMS_HELP_TEXT") or TwilioOptions.help_text,
        store_timeout=_seconds(env, "TWILIO_STORE_TIMEOUT", TwilioOptions.store_timeout),
    )


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} {raw!r} is not a number of seconds") from None
    if not 0 < value <= 15:
        raise ConfigError(f"{name} must be more than 0 and at most 15 seconds (Twilio waits 15 s), not {raw}")
    return value
