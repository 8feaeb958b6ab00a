"""Deciding which case an inbound message belongs to. Pure: the app looks up what is needed and passes it in.

The app's side, per message:

    ids = referenced_message_ids(msg)             # In-Reply-To first, then References newest first
    numbers = case_numbers_in(msg.subject)        # e.g. [123] for "Re: Printer [CS-000123]"
    known = {mid: KnownMessage(case_id, participants) for the stored messages among `ids`}
    cases = {case_id: participants for the cases among `numbers`}
    decision = thread_message(msg, known, cases)

`participants` are the normalised (lower-case) addresses that already take part in the case: the customer's
identities and everyone who has written to or been copied on it. A reference (or a case number) pointing at a
case the sender does not take part in is not followed: anyone can copy a Message-ID or a case number into a new
mail, and attaching it would show them another customer's conversation. Such refusals are listed in
`ThreadDecision.refused_case_ids` so the app can note them.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from email_response.parsing import ParsedMessage

__all__ = [
    "CASE_PREFIX",
    "KnownMessage",
    "ThreadDecision",
    "ThreadReason",
    "case_numbers_in",
    "case_tag",
    "referenced_message_ids",
    "thread_message",
]

CASE_PREFIX = "CS-"
_CASE_TAG = re.compile(r"\[\s*CS-(\d{1,12})\s*\]", re.IGNORECASE)


class KnownMessage(NamedTuple):
    """A stored message's case and the addresses taking part in that case."""

    case_id: int
    participants: Collection[str]


class ThreadReason(enum.StrEnum):
    IN_REPLY_TO = "in-reply-to"
    REFERENCES = "references"
    SUBJECT_CASE_NUMBER = "subject-case-number"
    NEW_CASE = "new-case"


@dataclass(frozen=True)
class ThreadDecision:
    """Where a message goes: `case_id` None means a new case; `reason` says which rule decided."""

    case_id: int | None
    reason: ThreadReason
    matched: str | None = None
    refused_case_ids: tuple[int, ...] = ()


def case_tag(case_id: int) -> str:
    """Return the tag we put in subjects, e.g. "[CS-000123]"."""
    return f"[{CASE_PREFIX}{case_id:06d}]"


def case_numbers_in(subject: str) -> list[int]:
    """Return the case ids tagged in a subject, in order of appearance, without repeats."""
    return list(dict.fromkeys(int(found) for found in _CASE_TAG.findall(subject) if int(found) > 0))


def referenced_message_ids(msg: ParsedMessage) -> list[str]:
    """Return the Message-IDs a message refers to: In-Reply-To first, then References newest first."""
    ids = [msg.in_reply_to] if msg.in_reply_to else []
    # RFC 5322 §3.6.4: References lists the thread oldest first, so its last entry is the direct parent.
    ids.extend(reversed(msg.references))
    return list(dict.fromkeys(ids))


def thread_message(
    msg: ParsedMessage,
    known: Mapping[str, KnownMessage | tuple[int, Collection[str]]],
    cases: Mapping[int, Collection[str]] | None = None,
) -> ThreadDecision:
    """Decide the case of a message from its references, then the case number in its subject, else a new case."""
    sender = msg.sender.address if msg.sender else None
    refused: list[int] = []

    def allowed(case_id: int, participants: Collection[str]) -> bool:
        if sender is not None and sender in participants:
            return True
        if case_id not in refused:
            refused.append(case_id)
        return False

    for message_id in referenced_message_ids(msg):
        entry = known.get(message_id)
        if entry is None:
            continue
        case_id, participants = entry
        if allowed(case_id, participants):
            reason = ThreadReason.IN_REPLY_TO if message_id == msg.in_reply_to else ThreadReason.REFERENCES
            return ThreadDecision(case_id, reason, message_id, tuple(refused))

    for case_id in case_numbers_in(msg.subject):
        members = (cases or {}).get(case_id)
        if members is None:
            continue  # a number for a case that does not exist
        if allowed(case_id, members):
            return ThreadDecision(case_id, ThreadReason.SUBJECT_CASE_NUMBER, case_tag(case_id), tuple(refused))

    return ThreadDecision(None, ThreadReason.NEW_CASE, None, tuple(refused))
