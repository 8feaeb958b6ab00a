"""Twilio's side of calls and text messages: call state per CallSid, answers per turn, opt-outs, delivery status.

These live beside the case store's tables rather than inside them: a call's IVR state and the TwiML it was
answered with are the channel's business, and a contact or outbox message only needs to know it happened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from contact_center.models.base import UTCDateTime

__all__ = ["SmsDelivery", "SmsOptOut", "TwilioCall", "TwilioCallTurn"]


class TwilioCall(SQLModel, table=True):
    """One phone call's IVR state, kept server-side so any process can serve its next webhook."""

    __tablename__ = "twilio_calls"

    id: int | None = Field(default=None, primary_key=True)
    call_sid: str = Field(max_length=64, unique=True)
    caller: str | None = Field(default=None, max_length=64)
    called: str | None = Field(default=None, max_length=64)
    #: `ivr.CallState.to_json()`; its `turn` is copied to the column below for cheap retry checks.
    state: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    turn: int = 0
    #: Twilio's CallStatus as far as it has progressed; never moves backwards (see `twilio.statuses`).
    call_status: str | None = Field(default=None, max_length=32)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id")
    #: When the caller entered a Twilio queue, for the long-wait callback offer.
    queued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: A callback was booked for this call: hanging up then must not take the routing task away.
    callback_requested: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class TwilioCallTurn(SQLModel, table=True):
    """The TwiML a call's webhook was answered with, so a retried webhook gets the very same answer."""

    __tablename__ = "twilio_call_turns"
    __table_args__ = (sa.UniqueConstraint("call_id", "webhook", name="uq_twilio_call_turns_call_webhook"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="twilio_calls.id", index=True)
    #: Which webhook and turn, e.g. "voice:0" or "gather:3".
    webhook: str = Field(max_length=64)
    twiml: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime)


class SmsOptOut(SQLModel, table=True):
    """A phone number's answer to STOP or START; a number with `opted_out` is never sent a text."""

    __tablename__ = "sms_opt_outs"

    id: int | None = Field(default=None, primary_key=True)
    #: E.164, as `contact_center.addresses.normalise_phone` writes it.
    address: str = Field(max_length=64, unique=True)
    opted_out: bool = True
    keyword: str = Field(max_length=32)
    message_sid: str | None = Field(default=None, max_length=64)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class SmsDelivery(SQLModel, table=True):
    """Twilio's delivery status of one outbox text, from the send and the status callbacks."""

    __tablename__ = "sms_deliveries"

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id", unique=True)
    message_sid: str | None = Field(default=None, max_length=64, index=True)
    status: str = Field(max_length=32)
    error_code: str | None = Field(default=None, max_length=16)
    updated_at: datetime = Field(sa_type=UTCDateTime)
