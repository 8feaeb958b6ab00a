"""The agent desktop: the page and its WebSocket, which pushes offers, presence and chat lines as they happen.

The socket carries only what concerns its agent: offers made to them (and their end), their activity, and the
messages and typing of chats they hold. It checks Origin and the session at the handshake, and closes when the
agent is disabled or the session ends (checked again every few seconds and at once when routing drops the agent).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp_jinja2
from aiohttp import WSCloseCode, WSMsgType, web
from sqlalchemy import bindparam
from sqlmodel import col, select

from contact_center.channels.chat.models import ChatSender, ChatSession
from contact_center.channels.chat.web import CHAT
from contact_center.dispatch import contact_id_of
from contact_center.errors import DomainError
from contact_center.hub import Wants
from contact_center.models import Case, Contact, Customer
from contact_center.services.users import SignedIn, session_still_acts_for
from contact_center.web.auth import AGENTS, COOKIE, authorize, authorize_page
from contact_center.web.keys import CLOCK, DATABASE, DISPATCHER, HUB
from contact_center.web.sockets import SocketWriter, check_origin, open_socket

__all__ = ["routes"]

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
# How often a socket re-reads its session and agent: a disabled account loses its desktop within this time.
_RECHECK_SECONDS = 3.0
_OFFER_GONE = ("task_accepted", "task_rejected", "reservation_timed_out")


async def _agent_user(request: web.Request) -> SignedIn:
    return await authorize_page(request, AGENTS)


@routes.get("/desktop", name="desktop")
async def desktop_page(request: web.Request) -> web.Response:
    """Show the agent desktop."""
    signed_in = await _agent_user(request)
    context = {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "linked": signed_in.user.agent_id is not None,
    }
    return aiohttp_jinja2.render_template("desktop.html", request, context)


@routes.get("/desktop/ws", name="desktop-socket")
async def desktop_socket(request: web.Request) -> web.StreamResponse:
    """Push this agent's offers, presence and chats."""
    check_origin(request)
    try:
        signed_in = await authorize(request, AGENTS)
    except DomainError as exc:
        raise web.HTTPForbidden(reason=exc.message) from None
    assert signed_in is not None
    agent_id = signed_in.user.agent_id
    if agent_id is None:
        raise web.HTTPForbidden(reason="your account is not linked to an agent")
    ws = await open_socket(request, max_msg_size=16 * 1024)
    writer = SocketWriter(ws)
    token = request.cookies.get(COOKIE, "")
    async with request.app[HUB].subscribe(_concerning(agent_id)) as inbox:
        await writer.send(await _hello(request, agent_id))
        chats: dict[int, int | None] = {}
        reader = asyncio.create_task(_read(request, ws, agent_id, chats))
        others = {
            asyncio.create_task(_forward(request, writer, inbox, agent_id, chats)),
            asyncio.create_task(_watch(request, token, agent_id)),
        }
        # The reader ends when the page goes; the others end when the agent may no longer be here.
        done, pending = await asyncio.wait({reader, *others}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                log.error("desktop socket of agent %s failed", agent_id, exc_info=task.exception())
        if reader not in done:
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"signed out or disabled")
    return ws


def _concerning(agent_id: int) -> Wants:
    """Return the filter of the hub's messages that `_forward` may pass on to this agent's desktop.

    Routing events are about one agent (or, when a contact leaves the queue, everyone's); chat events are all
    kept, since they also tell who holds a chat (what `_forward` checks typing against).
    """
    me = str(agent_id)

    def wants(message: dict[str, Any]) -> bool:
        if message.get("topic") == "routing":
            return message.get("agent_id") == me or message.get("kind") == "task_abandoned"
        return True

    return wants


async def _read(request: web.Request, ws: web.WebSocketResponse, agent_id: int, chats: dict[int, int | None]) -> None:
    async for frame in ws:
        if frame.type is not WSMsgType.TEXT:
            return
        await _handle(request, frame.data, agent_id, chats)


async def _handle(request: web.Request, raw: str, agent_id: int, chats: dict[int, int | None]) -> None:
    """Take a frame from the desktop: only typing goes this way (everything else is a REST call)."""
    try:
        frame = json.loads(raw)
    except ValueError:
        return
    if not isinstance(frame, dict) or frame.get("type") != "typing":
        return
    chat_id = frame.get("chat_id")
    if not isinstance(chat_id, int):
        return
    service = request.app[CHAT]
    try:
        chat = await service.get(chat_id)
    except DomainError:
        return
    if chat.agent_id == agent_id:
        service.typing(chat, ChatSender.AGENT)


async def _hello(request: web.Request, agent_id: int) -> dict[str, Any]:
    dispatcher = request.app[DISPATCHER]
    state = await dispatcher.backend.get_agent(str(agent_id))
    reservations = await dispatcher.backend.agent_reservations(str(agent_id))
    offers = [
        await _offer(request, r.id, contact_id_of(r.task_id), r.queue, r.channel, r.expires_at) for r in reservations
    ]
    return {"type": "hello", "activity": str(state.activity) if state else "offline", "offers": offers}


# What an offer shows of its contact; built once, as it is read for every offer made.
_OFFERED = (
    select(Case.subject, Customer.name)
    .join(Contact, col(Contact.case_id) == Case.id)
    .join(Customer, col(Customer.id) == Case.customer_id)
    .where(Contact.id == bindparam("contact"))
)


async def _offer(
    request: web.Request, reservation_id: str, contact_id: int | None, queue: str, channel: str, expires_at: float
) -> dict[str, Any]:
    subject = customer = None
    if contact_id is not None:
        async with request.app[DATABASE].transaction() as session:
            row = (await session.execute(_OFFERED, {"contact": contact_id})).first()
        if row is not None:
            subject, customer = row
    return {
        "type": "offer",
        "reservation_id": reservation_id,
        "contact_id": contact_id,
        "queue": queue,
        "channel": channel,
        # Seconds left by the server's clock: the page counts down from when it received the offer.
        "remaining": max(expires_at - request.app[DISPATCHER].now(), 0.0),
        "subject": subject,
        "customer": customer,
    }


async def _chat_agent(request: web.Request, chat_id: int, chats: dict[int, int | None], *, fresh: bool) -> int | None:
    if fresh or chat_id not in chats:
        async with request.app[DATABASE].transaction() as session:
            chat = await session.get(ChatSession, chat_id)
        chats[chat_id] = chat.agent_id if chat else None
    return chats[chat_id]


async def _forward(
    request: web.Request,
    writer: SocketWriter,
    inbox: asyncio.Queue[dict[str, Any]],
    agent_id: int,
    chats: dict[int, int | None],
) -> None:
    me = str(agent_id)
    while True:
        message = await inbox.get()
        topic, kind = message.get("topic"), message.get("kind")
        if topic == "routing":
            if message.get("agent_id") != me:
                if kind == "task_abandoned":
                    await writer.send({"type": "task_gone", "contact_id": contact_id_of(str(message["task_id"]))})
                continue
            if kind == "task_reserved":
                await writer.send(
                    await _offer(
                        request,
                        str(message["reservation_id"]),
                        contact_id_of(str(message["task_id"])),
                        str(message["queue"]),
                        str(message["channel"]),
                        float(message["expires_at"]),
                    )
                )
            elif kind in _OFFER_GONE:
                await writer.send({"type": "offer_gone", "reservation_id": message["reservation_id"], "reason": kind})
                if kind == "task_accepted":
                    await writer.send({"type": "work_changed"})
            elif kind == "task_completed":
                await writer.send({"type": "work_changed"})
            elif kind == "agent_activity_changed":
                await writer.send({"type": "activity", "activity": message["activity"], "reason": message["reason"]})
                if message.get("reason") == "removed":
                    return  # routing dropped the agent: disabled
        elif topic == "field" and kind == "visit_changed":
            await writer.send({"type": "visit", **{k: message[k] for k in ("case_id", "work_order", "status", "eta")}})
        elif topic == "chat":
            chat_id = int(message["chat_id"])
            if "holder" in message:
                # The chat service names the holder with every change it publishes. Typing does not: it is sent
                # from a socket's copy of the chat, which may predate the agent's accept, so it is looked up.
                holder = chats[chat_id] = message["holder"]
            else:
                holder = await _chat_agent(request, chat_id, chats, fresh=message.get("type") == "status")
            if holder != agent_id:
                continue
            if message.get("type") == "typing" and message.get("sender") != ChatSender.CUSTOMER.value:
                continue
            await writer.send({k: v for k, v in message.items() if k not in ("topic", "holder")})


async def _watch(request: web.Request, token: str, agent_id: int) -> None:
    """Return once the session ends, the user is disabled or loses the agent role, or the agent is disabled."""
    while True:
        await asyncio.sleep(_RECHECK_SECONDS)
        async with request.app[DATABASE].transaction() as session:
            allowed = await session_still_acts_for(session, token, agent_id, AGENTS, request.app[CLOCK].now())
        if not allowed:
            return
