"""The Twilio webhooks: every route checks Twilio's signature, then hands the form to `voice` or `sms`.

Routes (all POST, form-encoded, signed by Twilio against `PUBLIC_BASE_URL`):

- `/twilio/voice`: an incoming call; the URL to paste into the Twilio console for a number's "A call comes in".
- `/twilio/voice/gather`, `/recording`, `/queue-wait`, `/queue-exit`, `/queue-offer`: the URLs our TwiML points
  Twilio to (keys or words, a voicemail, hold music and position, leaving the queue, the callback offer).
- `/twilio/voice/status`: call-status callbacks (the console's "Call status changes").
- `/twilio/sms`: an incoming text ("A message comes in"). `/twilio/sms/status`: delivery status callbacks, whose
  URL the SMS transport gives Twilio with every text it sends.

Without `TWILIO_AUTH_TOKEN` (or `PUBLIC_BASE_URL`) no signature can be checked, so every route answers 503 and
says what to configure; an unsigned request is never accepted. A webhook that neither the case store nor the backlog
can take (the store is away and the backlog is full) answers 503, so Twilio retries it or uses the fallback URL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from multidict import MultiDict
from sqlalchemy.exc import SQLAlchemyError
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from contact_center.channels.twilio.degraded import Backlog, BacklogFull, Pending, SmsArrived
from contact_center.channels.twilio.options import TwilioOptions, options_from_env
from contact_center.channels.twilio.rest import TwilioRest
from contact_center.channels.twilio.signature import SIGNATURE_HEADER, is_signed_by_twilio, webhook_url
from contact_center.channels.twilio.sms import SmsSender, SmsTransport, receive_sms, record_sms_status
from contact_center.channels.twilio.text_drop import TextDrop
from contact_center.channels.twilio.voice import VOICE_PREFIX, Answered, Calls, bridge_call
from contact_center.dispatch import Accepted, AcceptedHook
from contact_center.models import Channel
from contact_center.web.errors import json_error
from contact_center.web.keys import CLOCK, DATABASE, DISPATCHER, INTAKE, ROUTER, SETTINGS
from ivr import Flow, load_flow

__all__ = ["TWILIO", "TwilioChannel", "add_twilio_routes", "calls_for", "replayer", "sms_transport"]

log = logging.getLogger(__name__)

UNCONFIGURED = (
    "Twilio is not configured: set TWILIO_AUTH_TOKEN (your account's auth token, used to check that webhooks come "
    "from Twilio), TWILIO_ACCOUNT_SID and PUBLIC_BASE_URL (the https:// address Twilio calls this server at)."
)
BACKLOG_FULL = "The case store is unreachable and the notes kept for it are at their limit; try again later."
_TWIML = "text/xml"
# How often notes kept while the case store was down are retried.
_REPLAY_INTERVAL = 5.0
# Under DATA_DIR: one journal per process of the notes its Twilio webhooks owe the case store.
BACKLOG_DIRECTORY = "twilio-backlog"

FormHandler = Callable[[web.Request, MultiDict[str]], Awaitable[web.Response]]


@dataclass
class TwilioChannel:
    """What the Twilio routes share: options, the IVR flow, the backlog and (once started) the REST client."""

    options: TwilioOptions
    flow: Flow
    backlog: Backlog = field(default_factory=Backlog)
    rest: TwilioRest | None = None


TWILIO = web.AppKey("twilio", TwilioChannel)


def add_twilio_routes(app: web.Application, options: TwilioOptions | None = None) -> None:
    """Serve the Twilio webhooks on the app, with the IVR flow the options name (read from the environment)."""
    options = options or options_from_env()
    journals = app[SETTINGS].data_dir / BACKLOG_DIRECTORY
    app[TWILIO] = TwilioChannel(options=options, flow=load_flow(options.flow_path), backlog=Backlog(journals))
    voice = VOICE_PREFIX
    app.router.add_post(voice, _signed(_answering("voice")))
    app.router.add_post(f"{voice}/gather", _signed(_answering("gather")))
    app.router.add_post(f"{voice}/recording", _signed(_recording))
    app.router.add_post(f"{voice}/queue-wait", _signed(_queue_wait))
    app.router.add_post(f"{voice}/queue-exit", _signed(_queue_exit))
    app.router.add_post(f"{voice}/queue-offer", _signed(_queue_offer))
    app.router.add_post(f"{voice}/status", _signed(_call_status))
    app.router.add_post("/twilio/sms", _signed(_sms))
    app.router.add_post("/twilio/sms/status", _signed(_sms_status))
    app[DISPATCHER].accepted_hooks.append(bridge_accepted_calls(app))
    app.on_startup.append(_warn_if_unconfigured)
    app.cleanup_ctx.append(_twilio_context)


def bridge_accepted_calls(app: web.Application) -> AcceptedHook:
    """Return the hook that connects a queued caller to the agent who accepted the call."""

    async def bridge(accepted: Accepted) -> None:
        rest = app[TWILIO].rest
        if accepted.channel is not Channel.VOICE or rest is None:
            return
        await bridge_call(
            rest, accepted.external_id, f"client:agent-{accepted.agent_id}", reservation=accepted.reservation_id
        )

    return bridge


def calls_for(app: web.Application) -> Calls:
    """Return the call service over the app's store, router and clock."""
    settings, channel = app[SETTINGS], app[TWILIO]
    return Calls(
        db=app[DATABASE],
        intake=app[INTAKE],
        router=app[ROUTER],
        clock=app[CLOCK],
        flow=channel.flow,
        options=channel.options,
        backlog=channel.backlog,
        public_base_url=settings.public_base_url or "",
        region=settings.default_phone_region,
    )


def sms_transport(app: web.Application) -> SmsTransport | None:
    """Return the outbox's SMS transport: Twilio, else a text drop in OUTBOX_DROP_DIR, else None.

    With Twilio credentials it is None before start-up, until the app has made its Twilio client.
    """
    channel, settings = app[TWILIO], app[SETTINGS]
    sender: SmsSender
    if settings.twilio_account_sid and settings.twilio_auth_token:
        if channel.rest is None:
            return None
        sender = channel.rest
    elif settings.outbox_drop_dir is not None:
        sender = TextDrop(settings.outbox_drop_dir / "sms")
    else:
        return None
    return SmsTransport(
        sender,
        app[DATABASE],
        app[CLOCK],
        channel.options,
        public_base_url=settings.public_base_url,
        region=settings.default_phone_region,
    )


def _signed(handler: FormHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Check Twilio's signature before the handler sees the form; 403 (and nothing done) when it fails."""

    async def checked(request: web.Request) -> web.Response:
        settings = request.app[SETTINGS]
        if not settings.twilio_auth_token or not settings.public_base_url:
            return json_error(503, "unavailable", UNCONFIGURED)
        posted = await request.post()
        form: MultiDict[str] = MultiDict((k, v) for k, v in posted.items() if isinstance(v, str))
        url = webhook_url(settings.public_base_url, request.raw_path)
        if not is_signed_by_twilio(settings.twilio_auth_token, url, form, request.headers.get(SIGNATURE_HEADER)):
            log.warning("refused %s: missing or wrong %s for %s", request.path, SIGNATURE_HEADER, url)
            return web.Response(status=403, text="invalid or missing X-Twilio-Signature\n")
        try:
            return await handler(request, form)
        except BacklogFull:
            # Neither the store nor the backlog took the webhook, so nothing may claim it was received: a 503
            # makes Twilio retry or use the number's fallback URL.
            refused = json_error(503, "unavailable", BACKLOG_FULL)
            refused.headers["Retry-After"] = str(int(_REPLAY_INTERVAL))
            return refused

    return checked


def _twiml(text: str) -> web.Response:
    return web.Response(text=text, content_type=_TWIML)


def _turn(request: web.Request) -> int | None:
    raw = request.query.get("turn", "")
    return int(raw) if raw.isdigit() else None


def _degraded(request: web.Request) -> bool:
    return request.query.get("degraded") == "1"


def _answering(webhook: Answered) -> FormHandler:
    async def handle(request: web.Request, form: MultiDict[str]) -> web.Response:
        return _twiml(await calls_for(request.app).answer(webhook, form, _turn(request)))

    return handle


async def _recording(request: web.Request, form: MultiDict[str]) -> web.Response:
    calls = calls_for(request.app)
    if _degraded(request):
        return _twiml(await calls.degraded_recording(form))
    return _twiml(await calls.answer("recording", form, _turn(request)))


async def _queue_exit(request: web.Request, form: MultiDict[str]) -> web.Response:
    calls = calls_for(request.app)
    if _degraded(request):
        return _twiml(await calls.degraded_exit(form))
    return _twiml(await calls.answer("queue_exit", form, _turn(request)))


async def _queue_wait(request: web.Request, form: MultiDict[str]) -> web.Response:
    calls = calls_for(request.app)
    language = request.query.get("language") or calls.flow.default_language
    return _twiml(await calls.queue_wait(form, language, degraded=_degraded(request)))


async def _queue_offer(request: web.Request, form: MultiDict[str]) -> web.Response:
    calls = calls_for(request.app)
    language = request.query.get("language") or calls.flow.default_language
    return _twiml(await calls.queue_offer(form, language))


async def _call_status(request: web.Request, form: MultiDict[str]) -> web.Response:
    await calls_for(request.app).status(form)
    return _twiml(str(VoiceResponse()))


async def _sms(request: web.Request, form: MultiDict[str]) -> web.Response:
    app, channel = request.app, request.app[TWILIO]
    try:
        reply = await asyncio.wait_for(_receive_sms(app, form), channel.options.store_timeout)
    except (TimeoutError, SQLAlchemyError, OSError):
        log.warning("text %s kept until the case store answers", form.get("MessageSid"), exc_info=True)
        await channel.backlog.add(SmsArrived(dict(form), app[CLOCK].now()))
        reply = str(MessagingResponse())
    return _twiml(reply)


async def _receive_sms(app: web.Application, form: MultiDict[str] | dict[str, str]) -> str:
    settings = app[SETTINGS]
    return await receive_sms(
        app[DATABASE],
        app[INTAKE],
        app[ROUTER],
        app[CLOCK],
        app[TWILIO].options,
        form,
        region=settings.default_phone_region,
    )


async def _sms_status(request: web.Request, form: MultiDict[str]) -> web.Response:
    raw = request.query.get("outbox", "")
    if raw.isdigit():
        await record_sms_status(request.app[DATABASE], request.app[CLOCK], int(raw), form)
    return _twiml(str(MessagingResponse()))


async def _warn_if_unconfigured(app: web.Application) -> None:
    settings = app[SETTINGS]
    if not settings.twilio_auth_token or not settings.public_base_url:
        log.warning("Twilio webhooks will answer 503. %s", UNCONFIGURED)


def replayer(app: web.Application) -> Callable[[Pending], Awaitable[None]]:
    """Return the function that writes one backlog note."""

    async def replay(item: Pending) -> None:
        if isinstance(item, SmsArrived):
            await _receive_sms(app, dict(item.form))
        else:
            await calls_for(app).replay(item)

    return replay


async def _twilio_context(app: web.Application) -> AsyncIterator[None]:
    """Own the REST client's HTTP session and the loop that replays the backlog, for the app's lifetime."""
    settings, channel = app[SETTINGS], app[TWILIO]
    session: aiohttp.ClientSession | None = None
    if settings.twilio_account_sid and settings.twilio_auth_token:
        session = aiohttp.ClientSession()
        channel.rest = TwilioRest(
            session,
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            base_url=settings.twilio_api_base,
            timeout=channel.options.rest_timeout,
        )
    await channel.backlog.open()
    task = asyncio.create_task(_replay_forever(app), name="twilio-backlog")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await channel.backlog.aclose()
    channel.rest = None
    if session is not None:
        await session.close()


async def _replay_forever(app: web.Application) -> None:
    replay = replayer(app)
    while True:
        await asyncio.sleep(_REPLAY_INTERVAL)
        backlog = app[TWILIO].backlog
        try:
            # A sibling process killed since the last look leaves a journal whose lock is free.
            await backlog.claim()
        except OSError:
            log.exception("Twilio backlog: could not look for journals of dead processes")
        if len(backlog):
            await backlog.flush(replay)
