"""Customers signing in: one-time links by email, codes by SMS, and portal sessions.

A link carries 256 bits from `secrets` (at least 128 are required), works once and for ten minutes; the table keeps
only its SHA-256, so a copy of the database opens no account. Asking for links is rate-limited per address, and the
answer never says whether an address is known (no account enumeration).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.errors import DomainError, RateLimited
from contact_center.models import (
    Case,
    Customer,
    IdentityKind,
    OutboxChannel,
    PortalCode,
    PortalLink,
    PortalSession,
    parse_case_number,
)
from contact_center.services.customers import find_identity, latest_address
from contact_center.services.outbox import Outbound, do_enqueue

__all__ = [
    "CODE_LIFETIME",
    "LINK_LIFETIME",
    "LinkProblem",
    "PortalSignedIn",
    "RateLimited",
    "do_end_portal_session",
    "do_redeem_code",
    "do_redeem_link",
    "do_request_code",
    "do_request_link",
    "do_start_portal_session",
    "load_portal_session",
]

LINK_LIFETIME = timedelta(minutes=10)
CODE_LIFETIME = timedelta(minutes=10)
# At most this many links (or codes) per address (or case) within the window.
REQUEST_LIMIT = 3
REQUEST_WINDOW = timedelta(minutes=15)
CODE_ATTEMPTS = 5


class LinkProblem(StrEnum):
    """Why a link or a code did not sign anyone in; the portal explains each in plain words."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True)
class PortalSignedIn:
    customer: Customer
    session: PortalSession


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def do_request_link(
    session: AsyncSession, address: str, base_url: str, now: datetime, *, language: str = "en"
) -> bool:
    """Email a sign-in link if the address belongs to a customer; return whether one was queued."""
    try:
        identity = await find_identity(session, IdentityKind.EMAIL, address)
    except DomainError:
        return False
    if identity is None:
        return False
    recent = await session.scalar(
        select(func.count())
        .select_from(PortalLink)
        .where(PortalLink.address == identity.address, col(PortalLink.created_at) > now - REQUEST_WINDOW)
    )
    if (recent or 0) >= REQUEST_LIMIT:
        raise RateLimited("too many sign-in links asked for; wait a few minutes and try again")
    token = secrets.token_urlsafe(32)
    session.add(
        PortalLink(
            token_hash=_hash(token),
            customer_id=identity.customer_id,
            address=identity.address,
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    link = f"{base_url}/portal/signin/{token}"
    if language == "zh":
        subject = "您的登录链接"
        body = (
            f"请点击以下链接登录客户服务门户(10 分钟内有效,仅可使用一次):\n\n{link}\n\n"
            "如果不是您本人操作,请忽略此邮件。"
        )
    else:
        subject = "Your sign-in link"
        body = (
            f"Sign in to the support portal with this link (valid for 10 minutes, once):\n\n{link}\n\n"
            "If you did not ask for it, ignore this email."
        )
    await do_enqueue(session, Outbound(OutboxChannel.EMAIL, identity.address, body, subject=subject), now)
    return True


async def do_redeem_link(session: AsyncSession, token: str, now: datetime) -> tuple[int | None, LinkProblem | None]:
    """Use a link up: return its customer id, or why it cannot be used."""
    link = (
        await session.scalars(select(PortalLink).where(PortalLink.token_hash == _hash(token)).with_for_update())
    ).first()
    if link is None:
        return None, LinkProblem.UNKNOWN
    if link.used_at is not None:
        return None, LinkProblem.USED
    if link.expires_at <= now:
        return None, LinkProblem.EXPIRED
    link.used_at = now
    await session.flush()
    return link.customer_id, None


async def do_request_code(session: AsyncSession, case_ref: str, now: datetime) -> bool:
    """Text a six-digit code to the phone of the case's customer; return whether one was queued."""
    case_id = parse_case_number(case_ref)
    case = await session.get(Case, case_id) if case_id is not None else None
    if case is None:
        return False
    phone = await latest_address(session, case.customer_id, IdentityKind.PHONE)
    if phone is None:
        return False
    recent = await session.scalar(
        select(func.count())
        .select_from(PortalCode)
        .where(PortalCode.case_id == case.id, col(PortalCode.created_at) > now - REQUEST_WINDOW)
    )
    if (recent or 0) >= REQUEST_LIMIT:
        raise RateLimited("too many codes asked for; wait a few minutes and try again")
    code = f"{secrets.randbelow(1_000_000):06d}"
    session.add(
        PortalCode(
            case_id=case.id or 0,
            customer_id=case.customer_id,
            code_hash=_hash(f"{case.id}:{code}"),
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    body = f"Your sign-in code for {case.number}: {code} (valid 10 minutes) / 您的登录验证码:{code}"
    await do_enqueue(session, Outbound(OutboxChannel.SMS, phone, body, case_id=case.id), now)
    return True


async def do_redeem_code(
    session: AsyncSession, case_ref: str, code: str, now: datetime
) -> tuple[int | None, LinkProblem | None]:
    """Check a texted code for a case: return the customer id, or why not (five tries per code)."""
    case_id = parse_case_number(case_ref)
    if case_id is None:
        return None, LinkProblem.UNKNOWN
    latest = (
        await session.scalars(
            select(PortalCode)
            .where(PortalCode.case_id == case_id)
            .order_by(col(PortalCode.created_at).desc(), col(PortalCode.id).desc())
            .limit(1)
            .with_for_update()
        )
    ).first()
    if latest is None:
        return None, LinkProblem.UNKNOWN
    if latest.used_at is not None:
        return None, LinkProblem.USED
    if latest.expires_at <= now or latest.attempts >= CODE_ATTEMPTS:
        return None, LinkProblem.EXPIRED
    latest.attempts += 1
    if not hmac.compare_digest(latest.code_hash, _hash(f"{case_id}:{code.strip()}")):
        return None, LinkProblem.UNKNOWN
    latest.used_at = now
    return latest.customer_id, None


async def do_start_portal_session(
    session: AsyncSession, customer_id: int, now: datetime, lifetime: timedelta
) -> tuple[str, str]:
    """Open a portal session; return the cookie token and the CSRF token."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        PortalSession(
            id=_hash(token),
            customer_id=customer_id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    await session.flush()
    return token, csrf


async def load_portal_session(session: AsyncSession, token: str, now: datetime) -> PortalSignedIn | None:
    """Return the live portal session for a cookie token, or None."""
    portal_session = await session.get(PortalSession, _hash(token))
    if portal_session is None or portal_session.expires_at <= now:
        return None
    customer = await session.get(Customer, portal_session.customer_id)
    if customer is None:
        return None
    return PortalSignedIn(customer=customer, session=portal_session)


async def do_end_portal_session(session: AsyncSession, token: str) -> None:
    """Sign a customer's browser out."""
    await session.execute(delete(PortalSession).where(col(PortalSession.id) == _hash(token)))
