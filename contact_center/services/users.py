"""Signing in: users, password hashes (Argon2id) and browser sessions.

Session cookies carry a random token; the store keeps only its SHA-256, so reading the table opens no session.
Every sign-in makes a new session (no fixation), and a password change ends all of a user's sessions.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.errors import InvalidInput, NotFound
from contact_center.models import Agent, Role, User, WebSession
from contact_center.services.unique import flush_or_conflict

__all__ = [
    "SignedIn",
    "authenticate",
    "do_change_password",
    "do_create_user",
    "do_end_session",
    "do_start_session",
    "hash_password",
    "load_session",
    "session_still_acts_for",
]

_HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
# Verified when the username is unknown, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class SignedIn:
    """A live session and its user."""

    user: User
    session: WebSession


async def hash_password(password: str) -> str:
    """Hash a password with Argon2id, refusing ones too short to resist guessing.

    Argon2 is deliberately slow (tens of milliseconds of CPU and memory), so it runs in a thread: the event loop
    keeps serving other requests meanwhile.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password")
    return await asyncio.to_thread(_HASHER.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def do_create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    now: datetime,
    display_name: str | None = None,
    agent_id: int | None = None,
) -> User:
    """Create a user who can sign in."""
    username = username.strip().lower()
    if not username:
        raise InvalidInput("a user needs a username", field="username")
    if agent_id is not None and await session.get(Agent, agent_id) is None:
        raise InvalidInput(f"agent {agent_id} does not exist", field="agent_id")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=await hash_password(password),
        role=role,
        agent_id=agent_id,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    await flush_or_conflict(session, f"user {username} exists already", field="username")
    return user


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    """Return the active user these credentials belong to, upgrading an outdated hash on the way."""
    user = (await session.scalars(select(User).where(User.username == username.strip().lower()))).first()
    if not await asyncio.to_thread(_verify, user.password_hash if user else _DUMMY_HASH, password):
        return None
    if user is None or not user.active:
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(_HASHER.hash, password)
    return user


async def do_start_session(session: AsyncSession, user_id: int, now: datetime, lifetime: timedelta) -> tuple[str, str]:
    """Open a new session for a user; return the cookie token and the session's CSRF token."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        WebSession(id=_token_id(token), user_id=user_id, csrf_token=csrf, created_at=now, expires_at=now + lifetime)
    )
    await session.flush()
    return token, csrf


# The statements run for every signed-in request are built once: building a query and its cache key costs more
# CPU than its round trip.
_SESSION_WITH_USER = (
    select(WebSession, User)
    .join(User, col(User.id) == col(WebSession.user_id))
    .where(col(WebSession.id) == bindparam("id"))
)


async def load_session(session: AsyncSession, token: str, now: datetime) -> SignedIn | None:
    """Return the live session for a cookie token, or None if unknown, expired or its user disabled."""
    # One query for both rows: every signed-in request comes here.
    row = (await session.execute(_SESSION_WITH_USER, {"id": _token_id(token)})).first()
    if row is None:
        return None
    web_session, user = row
    if web_session.expires_at <= now or not user.active:
        return None
    return SignedIn(user=user, session=web_session)


_AGENT_OF_SESSION = (
    select(WebSession.expires_at, User.active, User.role, Agent.active)
    .join(User, col(User.id) == col(WebSession.user_id))
    .join(Agent, col(Agent.id) == col(User.agent_id))
    .where(col(WebSession.id) == bindparam("id"), col(User.agent_id) == bindparam("agent"))
)


async def session_still_acts_for(
    session: AsyncSession, token: str, agent_id: int, roles: Collection[Role], now: datetime
) -> bool:
    """Tell whether a session is live, its user active in one of `roles`, linked to this agent, and the agent active.

    An open agent desktop asks every few seconds, so session, user and agent are read in one query, as columns.
    """
    row = (await session.execute(_AGENT_OF_SESSION, {"id": _token_id(token), "agent": agent_id})).first()
    if row is None:
        return False
    expires_at, user_active, role, agent_active = row
    return bool(expires_at > now and user_active and role in roles and agent_active)


async def do_end_session(session: AsyncSession, token: str) -> None:
    """Sign a browser out."""
    await session.execute(delete(WebSession).where(col(WebSession.id) == _token_id(token)))


async def do_change_password(session: AsyncSession, user_id: int, current: str | None, new: str, now: datetime) -> None:
    """Set a new password and end every session of the user; `current` is checked unless an admin resets it."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist", resource="user")
    if current is not None and await authenticate(session, user.username, current) is None:
        raise InvalidInput("the current password is wrong", field="current_password")
    user.password_hash = await hash_password(new)
    user.password_changed_at = now
    await session.execute(delete(WebSession).where(col(WebSession.user_id) == user_id))
