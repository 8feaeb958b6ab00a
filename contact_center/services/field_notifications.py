"""Telling customers about their visits through the outbox: a confirmation when a work order is scheduled or its
appointment moves, a reminder the day before, and "on the way" with an ETA when the technician sets off.

Texts are the shipped templates in ``contact_center/field_messages`` (English and Chinese, rendered in the email
templates' sandbox); each says what to prepare for the job type. A message goes by SMS when the customer gave a
phone number, else by email. Every message is recorded in ``field_notices`` under a unique (work order, kind,
appointment) key in the transaction that stores it in the outbox: several processes sending reminders at the
same moment send each one once.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.models import FieldNotice, FieldNoticeKind, OutboxChannel, OutboxMessage, case_number
from contact_center.services.field_contacts import FieldContact, work_order_contact, work_order_contacts
from contact_center.services.outbox import Outbound, do_enqueue
from email_response.catalogue import TemplateCatalogue
from email_response.templates import render_reply
from field_service.models import TechnicianRecord, WorkOrderRecord, WorkOrderStatus

__all__ = [
    "MESSAGES",
    "REMINDERS_FROM",
    "appointment_of",
    "queue_confirmations",
    "queue_on_the_way",
    "queue_reminders",
]

MESSAGES = Path(__file__).resolve().parent.parent / "field_messages"
#: Reminders for tomorrow's visits go out from this local time of day on (nobody wants one at midnight).
REMINDERS_FROM = time(9, 0)
# A visit without a customer window is announced as a window of this length from the hour of its planned start,
# so that re-plans moving it by some minutes do not send the customer a new message each time.
_ANNOUNCED_WINDOW = timedelta(hours=2)
_REMINDED = (WorkOrderStatus.SCHEDULED, WorkOrderStatus.DISPATCHED)


@functools.cache
def _catalogue() -> TemplateCatalogue:
    return TemplateCatalogue.from_files(MESSAGES)


def appointment_of(order: WorkOrderRecord) -> tuple[datetime, datetime] | None:
    """Return the window the customer is told: their appointment window, else two hours from the planned hour."""
    if order.window_start is not None and order.window_end is not None:
        return order.window_start, order.window_end
    if order.planned_start is not None:
        start = order.planned_start.replace(minute=0, second=0, microsecond=0)
        return start, start + _ANNOUNCED_WINDOW
    return None


async def queue_confirmations(
    session: AsyncSession, orders: Sequence[WorkOrderRecord], now: datetime, *, tz: tzinfo = UTC
) -> dict[str, OutboxMessage]:
    """Confirm the appointments of scheduled visits that changed since the last confirmation; return {code: message}."""
    told: dict[int, list[str]] = defaultdict(list)
    rows = await session.execute(
        select(FieldNotice.work_order_id, FieldNotice.appointment)
        .where(
            col(FieldNotice.work_order_id).in_([o.id for o in orders]),
            FieldNotice.kind == FieldNoticeKind.CONFIRMATION,
        )
        .order_by(col(FieldNotice.id))
    )
    for order_id, told_about in rows.all():
        told[order_id].append(told_about)
    due = []
    for order in orders:
        appointment = appointment_of(order)
        if appointment is None or order.planned_start is None or order.id is None:
            continue
        previous = told[order.id]
        if previous and previous[-1].split("#")[0] == _key(appointment):
            continue
        due.append((order, appointment, len(previous)))
    contacts = await work_order_contacts(session, [order for order, _, _ in due])
    sent = {}
    for order, appointment, count in due:
        # Numbered, so that an appointment moved away and back is confirmed again, yet only once per move.
        key = f"{_key(appointment)}#{count}"
        context = _when(appointment, tz)
        message = await _notify(
            session, order, contacts.get(order.code), FieldNoticeKind.CONFIRMATION, key, context, now
        )
        if message is not None:
            sent[order.code] = message
    return sent


async def queue_reminders(session: AsyncSession, now: datetime, *, tz: tzinfo = UTC) -> list[OutboxMessage]:
    """Remind customers of tomorrow's visits (from REMINDERS_FROM local time on); each appointment once."""
    local = now.astimezone(tz)
    if local.time() < REMINDERS_FROM:
        return []
    tomorrow = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
    orders = (
        await session.scalars(
            select(WorkOrderRecord)
            .where(
                col(WorkOrderRecord.status).in_(_REMINDED),
                col(WorkOrderRecord.planned_start) >= tomorrow,
                col(WorkOrderRecord.planned_start) < tomorrow + timedelta(days=1),
            )
            .order_by(col(WorkOrderRecord.id))
        )
    ).all()
    reminded = set(
        (
            await session.execute(
                select(FieldNotice.work_order_id, FieldNotice.appointment).where(
                    col(FieldNotice.work_order_id).in_([o.id for o in orders]),
                    FieldNotice.kind == FieldNoticeKind.REMINDER,
                )
            )
        ).all()
    )
    due = [(o, a) for o in orders if (a := appointment_of(o)) is not None and (o.id, _key(a)) not in reminded]
    contacts = await work_order_contacts(session, [order for order, _ in due])
    sent = []
    for order, appointment in due:
        context = _when(appointment, tz)
        message = await _notify(
            session, order, contacts.get(order.code), FieldNoticeKind.REMINDER, _key(appointment), context, now
        )
        if message is not None:
            sent.append(message)
    return sent


async def queue_on_the_way(
    session: AsyncSession, order: WorkOrderRecord, eta: datetime, now: datetime, *, tz: tzinfo = UTC
) -> OutboxMessage | None:
    """Tell the customer the technician is on the way and when they should arrive (once per visit and day).

    Returns the message (the one already queued, when called again for the same visit), or None when the customer
    cannot be reached.
    """
    if order.id is None:
        return None
    local_eta = eta.astimezone(tz)
    key = local_eta.date().isoformat()
    existing = (
        await session.scalars(
            select(FieldNotice.outbox_id).where(
                FieldNotice.work_order_id == order.id,
                FieldNotice.kind == FieldNoticeKind.ON_THE_WAY,
                FieldNotice.appointment == key,
            )
        )
    ).first()
    if existing is not None:
        return await session.get(OutboxMessage, existing)
    technician = None
    if order.technician:
        record = (
            await session.scalars(select(TechnicianRecord).where(TechnicianRecord.code == order.technician))
        ).first()
        # The first name only: all a customer needs to greet them at the door.
        technician = record.name.split()[0] if record and record.name.strip() else None
    context = {"eta": f"{local_eta:%H:%M}", "technician": technician}
    contact = await work_order_contact(session, order)
    return await _notify(session, order, contact, FieldNoticeKind.ON_THE_WAY, key, context, now)


async def _notify(
    session: AsyncSession,
    order: WorkOrderRecord,
    contact: FieldContact | None,
    kind: FieldNoticeKind,
    appointment: str,
    context: dict[str, Any],
    now: datetime,
) -> OutboxMessage | None:
    assert order.id is not None
    if contact is None or not (contact.sms_phone or contact.email):
        return None
    notice = FieldNotice(work_order_id=order.id, kind=kind, appointment=appointment, created_at=now)
    try:
        async with session.begin_nested():
            session.add(notice)
            await session.flush()
    except IntegrityError:
        # Another process recorded this very message first: it sends it, we do not.
        return None
    # The work order's case exists (a foreign key): its number is all the message quotes.
    case_ref = case_number(order.case_id) if order.case_id is not None else None
    message = await do_enqueue(session, _outbound(kind, order, contact, case_ref, context), now)
    notice.outbox_id = message.id
    await session.flush()
    return message


def _outbound(
    kind: FieldNoticeKind, order: WorkOrderRecord, contact: FieldContact, case_ref: str | None, context: dict[str, Any]
) -> Outbound:
    entry = _catalogue().choose(kind.value, language=contact.language)
    assert entry is not None, f"no {kind.value} message shipped"
    rendered = render_reply(
        entry.template,
        {
            "name": contact.name,
            "work_order": order.code,
            "job_type": order.job_type.value,
            "case_number": case_ref,
            **context,
        },
    )
    if contact.sms_phone:
        return Outbound(OutboxChannel.SMS, contact.sms_phone, rendered.text.strip(), case_id=order.case_id)
    assert contact.email is not None
    return Outbound(OutboxChannel.EMAIL, contact.email, rendered.text, subject=rendered.subject, case_id=order.case_id)


def _key(appointment: tuple[datetime, datetime]) -> str:
    start, end = appointment
    return f"{start.astimezone(UTC).isoformat()}/{end.astimezone(UTC).isoformat()}"


def _when(appointment: tuple[datetime, datetime], tz: tzinfo) -> dict[str, str]:
    start, end = (moment.astimezone(tz) for moment in appointment)
    return {"day": start.date().isoformat(), "window_from": f"{start:%H:%M}", "window_to": f"{end:%H:%M}"}
