"""A local Twilio REST API: Messages and Calls in Twilio's wire format, for testing the adapter over real HTTP.

Resources and errors are shaped like Twilio's (https://www.twilio.com/docs/messaging/api/message-resource,
https://www.twilio.com/docs/usage/twilios-response): JSON bodies with `sid`, `status`, RFC 2822 dates and
`error_code`; errors as `{"code": 21211, "message": ..., "more_info": ..., "status": 400}`. Basic auth is checked,
every request is recorded, the next N requests can be made to fail, and `I-Twilio-Idempotency-Token` returns the
first answer again instead of creating a second resource.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass
class Recorded:
    method: str
    path: str
    form: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class Failure:
    status: int
    code: int
    message: str


@dataclass
class FakeTwilio:
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "fake-auth-token"
    requests: list[Recorded] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    delay: float = 0.0
    _answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _sids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def fail_next(self, count: int, status: int, code: int = 20500, message: str = "Internal Server Error") -> None:
        """Make the next `count` API requests fail with this status and Twilio error code."""
        self.failures.extend(Failure(status, code, message) for _ in range(count))

    def app(self) -> web.Application:
        app = web.Application()
        base = "/2010-04-01/Accounts/{account}"
        app.router.add_post(base + "/Messages.json", self._messages)
        app.router.add_post(base + "/Calls.json", self._create_call)
        app.router.add_post(base + "/Calls/{call}.json", self._update_call)
        return app

    # Handlers

    async def _messages(self, request: web.Request) -> web.Response:
        return await self._serve(request, self._new_message)

    async def _create_call(self, request: web.Request) -> web.Response:
        return await self._serve(request, self._new_call)

    async def _update_call(self, request: web.Request) -> web.Response:
        return await self._serve(request, self._changed_call)

    async def _serve(self, request: web.Request, make: Any) -> web.Response:
        posted = await request.post()
        form: dict[str, list[str]] = {}
        for key, value in posted.items():
            form.setdefault(key, []).append(str(value))
        self.requests.append(Recorded(request.method, request.path, form, dict(request.headers)))
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        if self.failures:
            failure = self.failures.pop(0)
            return self._error(failure.status, failure.code, failure.message)
        token = request.headers.get(IDEMPOTENCY_HEADER)
        if token and token in self._answers:
            status, body = self._answers[token]
            return web.json_response(body, status=status)
        outcome = make(request, {k: v[0] for k, v in form.items()})
        if isinstance(outcome, web.Response):
            return outcome
        status, body = outcome
        if token:
            self._answers[token] = (status, body)
        return web.json_response(body, status=status)

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}" and (
            request.match_info["account"] == self.account_sid
        )

    def _new_message(self, _request: web.Request, form: dict[str, str]) -> tuple[int, dict[str, Any]] | web.Response:
        to = form.get("To", "")
        if not _E164.match(to):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not form.get("Body"):
            return self._error(400, 21602, "Message body is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return self._error(400, 21603, "The 'From' phone number is required.")
        sid = f"SM{next(self._sids):032x}"
        now = format_datetime(datetime.now(UTC), usegmt=True)
        message = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if form.get("MessagingServiceSid") else "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        self.messages[sid] = message
        return 201, message

    def _new_call(self, _request: web.Request, form: dict[str, str]) -> tuple[int, dict[str, Any]] | web.Response:
        to = form.get("To", "")
        if not _E164.match(to):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not (form.get("Url") or form.get("Twiml")):
            return self._error(400, 21205, "Url parameter is required.")
        sid = f"CA{next(self._sids):032x}"
        call = self._call_resource(sid, to, form.get("From", ""), "queued")
        self.calls[sid] = call
        return 201, call

    def _changed_call(self, request: web.Request, form: dict[str, str]) -> tuple[int, dict[str, Any]] | web.Response:
        sid = request.match_info["call"]
        call = self.calls.get(sid)
        if call is None:
            return self._error(404, 20404, f"The requested resource {request.path} was not found")
        if call["status"] in ("completed", "canceled", "failed", "busy", "no-answer"):
            return self._error(400, 21220, "Call is not in-progress. Cannot redirect.")
        call["instructions"] = form.get("Twiml") or form.get("Url")
        return 200, call

    def add_live_call(self, sid: str, *, to: str = "+18005550100", from_: str = "+14155550111") -> None:
        """Pretend a call is in progress (an incoming call Twilio is holding in a queue)."""
        self.calls[sid] = self._call_resource(sid, to, from_, "in-progress")

    def _call_resource(self, sid: str, to: str, from_: str, status: str) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC), usegmt=True)
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "from": from_,
            "sid": sid,
            "status": status,
            "to": to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json",
        }

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        return web.json_response(
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            status=status,
        )
