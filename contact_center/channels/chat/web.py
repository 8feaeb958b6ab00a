"""The customer's side of web chat: the chat page and the WebSocket the page and the embeddable widget use.

Protocol (JSON text frames). The client opens with `{"type": "start", "message", "name"?, "email"?, "language"?,
"queue"?}` or `{"type": "resume", "chat", "token", "after"}`; then sends `message` (`body`), `typing` and `close`.
The server sends `started` (`chat`, `token`), `message` (numbered by `seq`), `status`, `queue` (`position`,
`expected_wait`), `typing` and `error`. On resume it first replays every message after `after` from the store, so
a reconnect loses nothing; the client drops any `seq` it has already shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import WSMsgType, web

from contact_center.channels.chat.models import ChatSender, ChatSession, ChatStatus
from contact_center.channels.chat.service import ChatService, ChatStart, message_payload
from contact_center.channels.chat.waiting import expected_wait
from contact_center.channels.chat.worker import run_abandon_sweep
from contact_center.dispatch import DEFAULT_QUEUE, task_id_for
from contact_center.errors import DomainError
from contact_center.hub import Wants
from contact_center.web.keys import CLOCK, DATABASE, DISPATCHER, HUB, INTAKE, ROUTER, SETTINGS
from contact_center.web.sockets import SocketWriter, check_origin, open_socket

__all__ = ["CHAT", "add_chat_channel"]

log = logging.getLogger(__name__)

CHAT = web.AppKey("chat", ChatService)
_FIRST_FRAME_SECONDS = 30.0
# While a customer waits, their place and expected wait are refreshed at least this often.
_QUEUE_REFRESH_SECONDS = 2.0
_MAX_FRAME = 16 * 1024
_TYPING_SECONDS = 1.0
# Keys of the hub's chat events that are for the server's own sockets, not for the customer.
_HUB_ONLY = frozenset({"topic", "chat_id", "holder"})


def add_chat_channel(app: web.Application) -> None:
    """Create the chat service, connect it to routing's accept hook and register its routes."""
    service = ChatService(app[DATABASE], app[INTAKE], app[ROUTER], app[CLOCK], app[HUB])
    app[CHAT] = service
    app[DISPATCHER].accepted_hooks.append(service.on_accepted)
    app.cleanup_ctx.append(_abandon_sweep)
    app.router.add_get("/chat", chat_page, name="chat")
    app.router.add_get("/chat/ws", chat_socket, name="chat-socket")


async def _abandon_sweep(app: web.Application) -> AsyncIterator[None]:
    task = None
    if app[SETTINGS].background_workers:
        task = asyncio.create_task(run_abandon_sweep(app[CHAT]), name="chat-abandon-sweep")
    yield
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _language(request: web.Request) -> str:
    wanted = request.query.get("lang") or request.headers.get("Accept-Language") or ""
    return "zh" if wanted.lower().startswith("zh") else "en"


async def chat_page(request: web.Request) -> web.Response:
    """Show the full-page chat for customers (the same client as the widget)."""
    language = _language(request)
    return aiohttp_jinja2.render_template(
        "chat.html", request, {"language": language, "queue": request.query.get("queue", "")}
    )


async def chat_socket(request: web.Request) -> web.StreamResponse:
    """Carry one customer's chat over a WebSocket."""
    check_origin(request, request.app[SETTINGS].chat_allowed_origins)
    ws = await open_socket(request, max_msg_size=_MAX_FRAME)
    writer = SocketWriter(ws)
    try:
        chat, after = await _open(request, ws, writer)
    except (TimeoutError, ValueError, TypeError, KeyError):
        await writer.send({"type": "error", "message": "start or resume the chat first"})
        await ws.close()
        return ws
    except DomainError as exc:
        await writer.send({"type": "error", "message": exc.message})
        await ws.close()
        return ws
    await _serve(request, ws, writer, chat, after)
    return ws


async def _open(request: web.Request, ws: web.WebSocketResponse, writer: SocketWriter) -> tuple[ChatSession, int]:
    service = request.app[CHAT]
    first = await asyncio.wait_for(ws.receive_json(), _FIRST_FRAME_SECONDS)
    if not isinstance(first, dict):
        raise ValueError("expected an object")
    if first.get("type") == "start":
        started = await service.start(
            ChatStart(
                message=str(first.get("message") or ""),
                name=str(first.get("name") or "") or None,
                email=str(first.get("email") or "") or None,
                language=str(first.get("language") or "en"),
                queue=str(first.get("queue") or "") or None,
            )
        )
        await writer.send({"type": "started", "chat": started.chat.public_id, "token": started.token})
        return started.chat, 0
    if first.get("type") == "resume":
        chat = await service.resume(str(first["chat"]), str(first["token"]))
        return chat, max(int(first.get("after") or 0), 0)
    raise ValueError("unknown first frame")


async def _serve(
    request: web.Request, ws: web.WebSocketResponse, writer: SocketWriter, chat: ChatSession, after: int
) -> None:
    service = request.app[CHAT]
    chat_id = chat.id or 0
    async with request.app[HUB].subscribe(_concerning(chat_id)) as inbox:
        # Subscribed before reading the store: nothing published in between is missed, duplicates are dropped.
        shown = [after]

        async def replay() -> None:
            for message in await service.messages_after(chat_id, shown[0]):
                await writer.send(message_payload(chat, message))
                shown[0] = message.seq

        await replay()
        current = await service.customer_present(chat_id, True) or await service.get(chat_id)
        await writer.send(_status(current))
        forward = asyncio.create_task(_forward(request, writer, inbox, current, shown, replay))
        typed = [-_TYPING_SECONDS]
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    break
                await _handle(service, writer, current, frame.json(), typed)
        except (ValueError, TypeError):
            await writer.send({"type": "error", "message": "frames must be JSON objects"})
        finally:
            forward.cancel()
            # The customer's absence is recorded first, and shielded: it is what closes an abandoned chat, so neither
            # a forwarder slow to stop (one cancelled inside a store read) nor this handler's own cancellation may
            # keep it from the store.
            await asyncio.shield(service.customer_present(chat_id, False))
            with contextlib.suppress(asyncio.CancelledError):
                await forward


async def _handle(
    service: ChatService, writer: SocketWriter, chat: ChatSession, frame: Any, typed: list[float]
) -> None:
    if not isinstance(frame, dict):
        raise ValueError("not an object")
    kind = frame.get("type")
    chat_id = chat.id or 0
    try:
        if kind == "message":
            await service.post(chat_id, ChatSender.CUSTOMER, None, str(frame.get("body") or ""))
        elif kind == "typing":
            # At most one indicator a second per socket, whatever a client sends.
            now = asyncio.get_running_loop().time()
            if now - typed[0] >= _TYPING_SECONDS:
                typed[0] = now
                service.typing(chat, ChatSender.CUSTOMER)
        elif kind == "close":
            await service.close(chat_id, by=ChatSender.CUSTOMER, reason="customer")
    except DomainError as exc:
        await writer.send({"type": "error", "message": exc.message})


def _concerning(chat_id: int) -> Wants:
    """Return the filter of the hub's messages that `_forward` may act on: this chat's, and queue changes."""

    def wants(message: dict[str, Any]) -> bool:
        topic = message.get("topic")
        if topic == "routing":
            return message.get("queue") is not None
        return topic == "chat" and message.get("chat_id") == chat_id

    return wants


def _status(chat: ChatSession) -> dict[str, Any]:
    return {"type": "status", "chat": chat.public_id, "status": chat.status.value, "agent": None}


async def _forward(
    request: web.Request,
    writer: SocketWriter,
    inbox: asyncio.Queue[dict[str, Any]],
    chat: ChatSession,
    shown: list[int],
    replay: Callable[[], Awaitable[None]],
) -> None:
    """Pass this chat's publications to the customer, with their place in the queue while they wait."""
    chat_id, task_id = chat.id, task_id_for(chat.contact_id)
    waiting = chat.status is ChatStatus.WAITING
    if waiting:
        await _send_queue(request, writer, chat)
    while True:
        try:
            async with asyncio.timeout(_QUEUE_REFRESH_SECONDS):  # not wait_for: on 3.11 it can drop a cancellation
                message = await inbox.get()
        except TimeoutError:
            if waiting:
                await _send_queue(request, writer, chat)
            continue
        topic = message.get("topic")
        if topic == "routing" and waiting and message.get("queue") is not None:
            # Any change in the queue may move this customer up; their own answer ends the wait.
            if message.get("task_id") == task_id and message.get("kind") in ("task_accepted", "task_abandoned"):
                waiting = False
            else:
                await _send_queue(request, writer, chat)
            continue
        if topic != "chat" or message.get("chat_id") != chat_id:
            continue
        kind = message.get("type")
        if kind == "message":
            seq = int(message["seq"])
            if seq <= shown[0]:
                continue
            if seq > shown[0] + 1:
                await replay()  # the hub dropped something for a slow reader: the store has it
                continue
            await writer.send({k: v for k, v in message.items() if k not in _HUB_ONLY})
            shown[0] = seq
        elif kind == "typing" and message.get("sender") != ChatSender.CUSTOMER.value:
            await writer.send({"type": "typing", "sender": message.get("sender")})
        elif kind == "status":
            waiting = message.get("status") == ChatStatus.WAITING.value
            await writer.send({k: v for k, v in message.items() if k not in _HUB_ONLY})


async def _send_queue(request: web.Request, writer: SocketWriter, chat: ChatSession) -> None:
    dispatcher = request.app[DISPATCHER]
    position = await dispatcher.position(chat.contact_id)
    if position is None:
        return
    view = await dispatcher.backend.get_task(task_id_for(chat.contact_id))
    queue = view.task.queue if view is not None else DEFAULT_QUEUE
    now = dispatcher.now()
    stats = await dispatcher.backend.queue_statistics(queue, now, 3600.0)
    agents = await dispatcher.backend.agent_statistics(now, 3600.0)
    serving = sum(agents.by_activity.get(a, 0) for a in ("available", "busy", "wrap_up"))
    wait = expected_wait(position, stats.average_handle_time, serving)
    await writer.send(
        {"type": "queue", "position": position, "expected_wait": None if math.isinf(wait) else round(wait)}
    )
