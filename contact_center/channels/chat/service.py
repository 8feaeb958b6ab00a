"""Every change to a chat: start it (a contact on a case, routed), post to it, hand it to an agent, close it.

Each change commits first and then publishes on the event hub, so a live page never shows what the store does
not hold; a client that missed a publication reads the messages after its last sequence number from the store.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.actors import SYSTEM, Actor
from contact_center.channels.chat.models import ChatMessage, ChatSender, ChatSession, ChatStatus
from contact_center.clock import Clock
from contact_center.db import Database
from contact_center.dispatch import DEFAULT_QUEUE, Accepted, ContactRouter, RouteRequest, queue_terms
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.hub import EventHub
from contact_center.intake_queue import IntakeQueue
from contact_center.models import ActorKind, Agent, Case, Channel, Customer
from contact_center.services.cases import do_record_message, get_case
from contact_center.services.contacts import ContactIntake, ContactResult

__all__ = [
    "MAX_MESSAGE",
    "ChatService",
    "ChatStart",
    "StartedChat",
    "message_payload",
]

MAX_MESSAGE = 4000
_NAME_MAX = 200
# Tries of a chat start that lost a race on a new customer's identity.
_ATTEMPTS = 3


@dataclass(frozen=True)
class ChatStart:
    """What a customer gives when starting a chat: only the first message is required."""

    message: str
    name: str | None = None
    email: str | None = None
    language: str = "en"
    queue: str | None = None


@dataclass(frozen=True)
class StartedChat:
    chat: ChatSession
    token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def message_payload(chat: ChatSession, message: ChatMessage) -> dict[str, Any]:
    """Return a message as the chat clients and the desktop receive it."""
    return {
        "type": "message",
        "chat": chat.public_id,
        "chat_id": chat.id,
        "seq": message.seq,
        "sender": message.sender.value,
        "author": message.author,
        "body": message.body,
        "at": message.created_at.isoformat(),
    }


def _subject(body: str) -> str:
    first_line = body.splitlines()[0]
    return first_line[:80] + ("…" if len(first_line) > 80 else "")


def _clean_body(body: str) -> str:
    text = body.strip()
    if not text:
        raise InvalidInput("a message needs text", field="body")
    if len(text) > MAX_MESSAGE:
        raise InvalidInput(f"a message has at most {MAX_MESSAGE} characters", field="body")
    return text


class ChatService:
    """The chat channel's state changes, with the store, routing, clock and live hub passed in."""

    def __init__(self, db: Database, intake: IntakeQueue, router: ContactRouter, clock: Clock, hub: EventHub) -> None:
        self.db = db
        self.intake = intake
        self.router = router
        self.clock = clock
        self.hub = hub

    async def start(self, start: ChatStart) -> StartedChat:
        """Open a chat with its first message: a contact on a case (a new one unless the thread continues), queued."""
        body = _clean_body(start.message)
        name = (start.name or "").strip()[:_NAME_MAX] or None
        email = (start.email or "").strip() or None
        if email is not None and ("@" not in email or len(email) > 320 or any(c.isspace() for c in email)):
            raise InvalidInput("that email address does not look right", field="email")
        language = start.language if start.language in ("en", "zh") else "en"
        public_id = secrets.token_urlsafe(12)
        token = secrets.token_urlsafe(24)
        now = self.clock.now()
        intake = ContactIntake(
            channel=Channel.CHAT,
            external_id=f"chat-{public_id}",
            address=email or f"chat:{public_id}",
            name=name or email or "Chat visitor",
            subject=_subject(body),
            language=language,
        )
        made: list[tuple[ChatSession, dict[str, Any], str]] = []

        async def open_chat(session: AsyncSession, result: ContactResult) -> None:
            queue_name = await _queue_name(session, start.queue)
            chat = ChatSession(
                public_id=public_id,
                token_hash=_hash(token),
                contact_id=result.contact.id or 0,
                case_id=result.case.id or 0,
                customer_id=result.case.customer_id,
                language=language,
                created_at=now,
            )
            session.add(chat)
            await session.flush()
            message = await self._append(session, chat, ChatSender.CUSTOMER, None, body, now)
            made[:] = [(chat, message_payload(chat, message), queue_name)]

        # Contact, case, chat and first message in one transaction (the intake queue's batch runs `open_chat` in
        # its own). Two first chats from one new email address race on its identity: the loser rolls back whole
        # and tries again, then finding the winner's customer.
        for attempt in range(_ATTEMPTS):
            try:
                await self.intake.receive(intake, now, then=open_chat)
                break
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
        [(chat, payload, queue_name)] = made
        self._publish(chat, payload)
        await self.router.submit(
            RouteRequest(
                contact_id=chat.contact_id,
                case_id=chat.case_id,
                customer_id=chat.customer_id,
                channel=Channel.CHAT,
                queue=queue_name,
                language=language,
                attributes={"chat": public_id},
            )
        )
        return StartedChat(chat=chat, token=token)

    async def resume(self, public_id: str, token: str) -> ChatSession:
        """Return the customer's chat if the token is theirs (a wrong one looks exactly like an unknown chat)."""
        async with self.db.transaction() as session:
            chat = (await session.scalars(select(ChatSession).where(ChatSession.public_id == public_id))).first()
        if chat is None or not hmac.compare_digest(chat.token_hash, _hash(token)):
            raise NotFound("no such chat", resource="chat")
        return chat

    async def get(self, chat_id: int) -> ChatSession:
        """Return a chat by id."""
        async with self.db.transaction() as session:
            chat = await session.get(ChatSession, chat_id)
        if chat is None:
            raise NotFound(f"chat {chat_id} does not exist", resource="chat")
        return chat

    async def messages_after(self, chat_id: int, seq: int) -> list[ChatMessage]:
        """Return the chat's messages numbered after `seq`, in order (what a reconnecting client missed)."""
        async with self.db.transaction() as session:
            rows = await session.scalars(
                select(ChatMessage)
                .where(ChatMessage.chat_id == chat_id, col(ChatMessage.seq) > seq)
                .order_by(col(ChatMessage.seq))
            )
            return list(rows.all())

    async def post(
        self, chat_id: int, sender: ChatSender, author: str | None, body: str, *, actor: Actor | None = None
    ) -> ChatMessage:
        """Add a customer's or an agent's message to an open chat and to its case's timeline."""
        text = _clean_body(body)
        now = self.clock.now()
        async with self.db.transaction() as session:
            chat = await session.get(ChatSession, chat_id, with_for_update=True)
            if chat is None:
                raise NotFound(f"chat {chat_id} does not exist", resource="chat")
            if chat.status is ChatStatus.CLOSED:
                raise Conflict("this chat has ended")
            message = await self._append(session, chat, sender, author, text, now, actor)
            payload = message_payload(chat, message)
        self._publish(chat, payload)
        return message

    def typing(self, chat: ChatSession, sender: ChatSender) -> None:
        """Tell the other side someone is typing (never stored: it is stale a second later)."""
        self.hub.publish(
            {"topic": "chat", "type": "typing", "chat": chat.public_id, "chat_id": chat.id, "sender": sender.value}
        )

    async def on_accepted(self, accepted: Accepted) -> None:
        """Connect a chat to the agent who accepted it and tell the customer who joined."""
        if accepted.channel is not Channel.CHAT:
            return
        now = self.clock.now()
        async with self.db.transaction() as session:
            chat = (
                await session.scalars(
                    select(ChatSession).where(ChatSession.contact_id == accepted.contact_id).with_for_update()
                )
            ).first()
            if chat is None or chat.status is not ChatStatus.WAITING:
                return
            agent = await session.get(Agent, accepted.agent_id)
            chat.status = ChatStatus.ACTIVE
            chat.agent_id = accepted.agent_id
            chat.answered_at = now
            name = agent.name if agent else "An agent"
            message = await self._append(session, chat, ChatSender.SYSTEM, name, f"{name} joined the chat", now)
            payload = message_payload(chat, message)
            status = self._status_payload(chat, name)
        self._publish(chat, payload)
        self._publish(chat, status)

    async def customer_present(self, chat_id: int, present: bool) -> ChatSession | None:
        """Record that the customer's socket came (or went): a waiting chat left alone too long is abandoned.

        Returns the chat as it stands then (None if there is no such chat), so the socket needs no read of its own.
        """
        async with self.db.transaction() as session:
            chat = await session.get(ChatSession, chat_id, with_for_update=True)
            if chat is not None and chat.status is not ChatStatus.CLOSED:
                chat.customer_left_at = None if present else self.clock.now()
        return chat

    async def close_abandoned(self, grace: timedelta) -> int:
        """Close every waiting chat whose customer left more than `grace` ago (as abandoned); return how many."""
        cutoff = self.clock.now() - grace
        async with self.db.transaction() as session:
            ids = list(
                (
                    await session.scalars(
                        select(ChatSession.id).where(
                            ChatSession.status == ChatStatus.WAITING,
                            col(ChatSession.customer_left_at).is_not(None),
                            col(ChatSession.customer_left_at) < cutoff,
                        )
                    )
                ).all()
            )
        for chat_id in ids:
            await self.close(chat_id or 0, by=ChatSender.CUSTOMER, reason="customer_left")
        return len(ids)

    async def hand_on(self, old_contact_id: int, new_contact_id: int, queue: str) -> None:
        """Move a live chat to the contact a transfer made: it waits again, and the customer is told so."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            chat = (
                await session.scalars(
                    select(ChatSession).where(ChatSession.contact_id == old_contact_id).with_for_update()
                )
            ).first()
            if chat is None or chat.status is not ChatStatus.ACTIVE:
                return
            chat.contact_id = new_contact_id
            chat.agent_id = None
            chat.status = ChatStatus.WAITING
            message = await self._append(
                session, chat, ChatSender.SYSTEM, None, f"You are being transferred ({queue}); please hold on", now
            )
            payload = message_payload(chat, message)
            status = self._status_payload(chat, None)
        self._publish(chat, payload)
        self._publish(chat, status)

    async def close(self, chat_id: int, *, by: ChatSender, reason: str) -> ChatSession:
        """End a chat; one closed while still waiting leaves its queue and counts as abandoned."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            chat = await session.get(ChatSession, chat_id, with_for_update=True)
            if chat is None:
                raise NotFound(f"chat {chat_id} does not exist", resource="chat")
            if chat.status is ChatStatus.CLOSED:
                return chat
            if reason == "customer_left" and (chat.customer_left_at is None or chat.status is not ChatStatus.WAITING):
                return chat  # they came back (or were answered) since the sweep looked
            was_waiting = chat.status is ChatStatus.WAITING
            chat.status = ChatStatus.CLOSED
            chat.closed_at = now
            chat.close_reason = reason
            who = "The customer" if by is ChatSender.CUSTOMER else "The agent"
            message = await self._append(session, chat, ChatSender.SYSTEM, None, f"{who} ended the chat", now)
            payload = message_payload(chat, message)
            status = self._status_payload(chat, None)
        if was_waiting:
            await self.router.withdraw(chat.contact_id, reason="chat_closed")
        self._publish(chat, payload)
        self._publish(chat, status)
        return chat

    async def transcript_case(self, chat: ChatSession) -> Case:
        """Return the case a chat's transcript is on (after a merge, the case that continues)."""
        async with self.db.transaction() as session:
            case = await get_case(session, chat.case_id)
            while case.merged_into_id is not None:
                case = await get_case(session, case.merged_into_id)
            return case

    def _publish(self, chat: ChatSession, payload: dict[str, Any]) -> None:
        # The hub copy names the agent holding the chat (`holder`, None while it waits), so that every agent's
        # desktop can tell whether the chat is theirs without reading the store once per desktop and event; the
        # sockets strip it before sending.
        self.hub.publish({"topic": "chat", **payload, "holder": chat.agent_id})

    def _status_payload(self, chat: ChatSession, agent: str | None) -> dict[str, Any]:
        return {
            "type": "status",
            "chat": chat.public_id,
            "chat_id": chat.id,
            "status": chat.status.value,
            "agent": agent,
        }

    async def _append(
        self,
        session: AsyncSession,
        chat: ChatSession,
        sender: ChatSender,
        author: str | None,
        body: str,
        now: datetime,
        actor: Actor | None = None,
    ) -> ChatMessage:
        if author is None and sender is ChatSender.CUSTOMER:
            customer = await session.get(Customer, chat.customer_id)
            author = customer.name if customer else None
        chat.last_seq += 1
        message = ChatMessage(
            chat_id=chat.id or 0, seq=chat.last_seq, sender=sender, author=author, body=body, created_at=now
        )
        session.add(message)
        # The transcript goes on the case that continues, should this one have been merged meanwhile.
        case = await get_case(session, chat.case_id, for_update=True)
        while case.merged_into_id is not None:
            case = await get_case(session, case.merged_into_id, for_update=True)
        if actor is None:
            kind = ActorKind.CUSTOMER if sender is ChatSender.CUSTOMER else ActorKind.SYSTEM
            actor = Actor(kind, chat.customer_id, author) if kind is ActorKind.CUSTOMER else SYSTEM
        if sender is not ChatSender.SYSTEM:
            await do_record_message(
                session,
                case,
                inbound=sender is ChatSender.CUSTOMER,
                body=body,
                actor=actor,
                now=now,
                contact_id=chat.contact_id,
                data={"channel": "chat", "seq": message.seq},
            )
        await session.flush()
        return message


async def _queue_name(session: AsyncSession, wanted: str | None) -> str:
    if not wanted:
        return DEFAULT_QUEUE
    # An embedding site may ask for a queue that does not exist (a typo in its tag): serve it anyway.
    return wanted if wanted in await queue_terms(session) else DEFAULT_QUEUE
