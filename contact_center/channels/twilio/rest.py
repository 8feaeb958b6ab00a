"""The one adapter over Twilio's REST API: send a text, create a call, redirect a live call.

Everything is one attempt: retries with back-off belong to the caller (the outbox worker for texts), which knows
what has been tried. Failures raise `TransportError`, permanent when Twilio says the request itself is wrong (an
invalid number, an opted-out recipient) and transient when trying again later could work (rate limits, Twilio's
own errors, time-outs, a wrong or not yet configured auth token). An idempotency key goes in Twilio's
`I-Twilio-Idempotency-Token` header, so a request repeated after a lost answer is not carried out twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from contact_center.channels.base import TransportError

__all__ = ["IDEMPOTENCY_HEADER", "Resource", "TwilioApiError", "TwilioRest"]

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
_API = "2010-04-01"
# Client errors that are about the moment rather than the request: a rate limit, a request time-out, a conflict
# with an identical request still in flight, credentials that an operator will fix.
_TRANSIENT_CLIENT_STATUSES = frozenset({401, 408, 409, 429})


class TwilioApiError(TransportError):
    """Twilio refused a request; `code` is Twilio's error code (21211: invalid To number), when it gave one."""

    def __init__(self, message: str, *, permanent: bool, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message, permanent=permanent)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Resource:
    """A Message or Call resource as Twilio returned it."""

    sid: str
    status: str
    data: Mapping[str, Any]


class TwilioRest:
    """Twilio's Messages and Calls APIs over an `aiohttp.ClientSession` the app owns."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        account_sid: str,
        auth_token: str,
        base_url: str = "https://api.twilio.com",
        timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._account_sid = account_sid
        self._authorization = aiohttp.encode_basic_auth(account_sid, auth_token)
        self._base = f"{base_url.rstrip('/')}/{_API}/Accounts/{account_sid}"
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send_sms(
        self,
        *,
        to: str,
        body: str,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        idempotency_key: str | None = None,
    ) -> Resource:
        """Send a text message; Twilio answers with the Message resource, usually status "queued"."""
        if not (from_ or messaging_service_sid):
            raise TransportError("no sender: set TWILIO_SMS_FROM or TWILIO_MESSAGING_SERVICE_SID", permanent=False)
        form: list[tuple[str, str]] = [("To", to), ("Body", body)]
        form.append(("MessagingServiceSid", messaging_service_sid) if messaging_service_sid else ("From", from_ or ""))
        if status_callback:
            form.append(("StatusCallback", status_callback))
        return await self._post("/Messages.json", form, idempotency_key)

    async def create_call(
        self,
        *,
        to: str,
        from_: str,
        url: str | None = None,
        twiml: str | None = None,
        status_callback: str | None = None,
        status_events: Sequence[str] = ("initiated", "ringing", "answered", "completed"),
        idempotency_key: str | None = None,
    ) -> Resource:
        """Place an outbound call (a callback to a customer) that runs the TwiML at `url` or `twiml` on answer."""
        form: list[tuple[str, str]] = [("To", to), ("From", from_), *_instructions(url, twiml)]
        if status_callback:
            form += [("StatusCallback", status_callback), ("StatusCallbackMethod", "POST")]
            form += [("StatusCallbackEvent", event) for event in status_events]
        return await self._post("/Calls.json", form, idempotency_key)

    async def update_call(
        self, call_sid: str, *, url: str | None = None, twiml: str | None = None, idempotency_key: str | None = None
    ) -> Resource:
        """Make a live call run other TwiML now: how a queued caller is taken out and bridged to an agent."""
        return await self._post(f"/Calls/{call_sid}.json", list(_instructions(url, twiml)), idempotency_key)

    async def _post(self, path: str, form: list[tuple[str, str]], idempotency_key: str | None) -> Resource:
        headers = {"Accept": "application/json", "Authorization": self._authorization}
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        try:
            async with self._session.post(
                self._base + path, data=form, headers=headers, timeout=self._timeout
            ) as response:
                text = await response.text()
                status = response.status
        except TimeoutError as exc:
            raise TwilioApiError(f"Twilio did not answer POST {path} in time", permanent=False) from exc
        except aiohttp.ClientError as exc:
            raise TwilioApiError(f"Twilio unreachable for POST {path}: {exc}", permanent=False) from exc
        data = _json(text)
        if status >= 400:
            code = data.get("code") if isinstance(data.get("code"), int) else None
            message = str(data.get("message") or text[:200] or response.reason)
            permanent = 400 <= status < 500 and status not in _TRANSIENT_CLIENT_STATUSES
            log.warning("Twilio refused POST %s: %s %s (code %s)", path, status, message, code)
            raise TwilioApiError(
                f"Twilio {status}{f' error {code}' if code else ''}: {message}",
                permanent=permanent,
                status=status,
                code=code,
            )
        sid = data.get("sid")
        if not isinstance(sid, str):
            raise TwilioApiError(f"Twilio answered POST {path} without a sid", permanent=False, status=status)
        return Resource(sid=sid, status=str(data.get("status") or ""), data=data)


def _instructions(url: str | None, twiml: str | None) -> list[tuple[str, str]]:
    if (url is None) == (twiml is None):
        raise ValueError("give exactly one of url and twiml")
    return [("Url", url), ("Method", "POST")] if url is not None else [("Twiml", twiml or "")]


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
