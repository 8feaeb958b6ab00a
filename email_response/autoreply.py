"""Whether an inbound message may get an automatic acknowledgement (RFC 3834), and the headers that answer carries.

Pure: the app passes the parsed message, the times of earlier automatic replies to the same sender and on the
same case, and `now`:

    verdict = auto_reply_allowed(msg, now=now, sender_history=..., case_history=..., own_addresses={...})
    if verdict.allowed:
        headers = acknowledgement_headers(msg, case_id=case.id, subject=msg.subject)
        ... compose_message(..., headers=headers) ...

`Verdict.reason` is a short stable token (`"auto-submitted"`, `"rate-limited-sender"`, ...) for logs and the
case timeline. An imported message (old mail) should never be answered: the import simply does not call this.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_response.parsing import ParsedMessage
from email_response.threading import case_numbers_in, case_tag

__all__ = [
    "AutoReplyLimits",
    "Verdict",
    "acknowledgement_headers",
    "auto_reply_allowed",
    "reply_subject",
]

# Local parts that are machines, not people: RFC 3834 §2 names MAILER-DAEMON and list addresses (owner-*,
# *-request) as senders to leave alone; "no-reply" addresses say so themselves.
_MACHINE_LOCAL_PARTS = re.compile(
    r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|listserv|majordomo|bounces?|"
    r"no[-_.]?reply|do[-_.]?not[-_.]?reply|noreply[-_.].*|.*[-_.]no[-_.]?reply|owner-.*|.*-request|.*-bounces?)$",
    re.IGNORECASE,
)
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|vs|ref|答复|回复|回覆)\s*(\[\d+\])?\s*[:\uff1a]\s*)+", re.IGNORECASE)
_REFERENCES_KEPT = 20


@dataclass(frozen=True)
class Verdict:
    """The answer to "may we auto-reply?"; `reason` names the rule that decided."""

    allowed: bool
    reason: str


@dataclass(frozen=True)
class AutoReplyLimits:
    """How many automatic replies a sender and a case may get within a window.

    Two auto-responders answering each other would exchange mail forever; RFC 3834 §2 asks responders not to
    answer the same sender again within "a period of several days". A help desk legitimately acknowledges each
    new case, so the per-sender limit counts replies in a shorter window; a case gets one acknowledgement a day.
    """

    per_sender: int = 3
    sender_window: timedelta = timedelta(hours=1)
    per_case: int = 1
    case_window: timedelta = timedelta(days=1)


def _count_since(history: Iterable[datetime], since: datetime) -> int:
    return sum(1 for sent in history if sent > since)


def auto_reply_allowed(
    msg: ParsedMessage,
    *,
    now: datetime,
    sender_history: Iterable[datetime] = (),
    case_history: Iterable[datetime] = (),
    limits: AutoReplyLimits | None = None,
    own_addresses: Collection[str] = (),
) -> Verdict:
    """Decide whether a message may get an automatic reply, following RFC 3834 and a rate limit."""
    limits = limits or AutoReplyLimits()
    auto = msg.auto

    # RFC 3834 §2: no automatic response to a message whose Auto-Submitted field has any value other than "no".
    if auto.auto_submitted is not None and auto.auto_submitted.split(";")[0].strip().lower() != "no":
        return Verdict(False, "auto-submitted")
    # RFC 3464 / RFC 3834 §2: delivery reports and other multipart/report messages are machine-made; answering a
    # bounce is how mail loops start.
    if msg.is_delivery_report:
        return Verdict(False, "delivery-report")
    # RFC 3834 §2 (citing RFC 2369 / RFC 2919): mail that came through a mailing list is not answered.
    if auto.list_headers:
        return Verdict(False, "mailing-list")
    # Precedence is not standardised, but bulk/list/junk is the long-standing convention RFC 3834 §2 mentions
    # as a heuristic for mail that must not be answered.
    if auto.precedence is not None and auto.precedence.strip().lower() in _BULK_PRECEDENCE:
        return Verdict(False, "precedence-bulk")
    # Microsoft's equivalent of Auto-Submitted on its own auto-replies and on mail that asks not to be answered.
    suppress = (auto.x_auto_response_suppress or "").lower()
    if any(word in suppress for word in ("all", "autoreply", "oof")):
        return Verdict(False, "auto-response-suppressed")
    if auto.x_autoreply is not None:
        return Verdict(False, "auto-submitted")
    # RFC 3834 §4 and §2: responses go to the return path, and never to a null one (Return-Path: <>).
    if auto.return_path is not None and auto.return_path.replace(" ", "") == "<>":
        return Verdict(False, "null-return-path")

    recipient = msg.reply_address
    if recipient is None or msg.sender is None:
        return Verdict(False, "no-sender")
    own = {address.lower() for address in own_addresses}
    if msg.sender.address in own or recipient in own:
        return Verdict(False, "own-address")
    if any(value.lower() in own for value in auto.x_loop):
        return Verdict(False, "mail-loop")
    # RFC 3834 §2: responders should not answer MAILER-DAEMON, list owners and similar machine senders.
    for address in {msg.sender.address, recipient}:
        if _MACHINE_LOCAL_PARTS.match(address.rpartition("@")[0]):
            return Verdict(False, "machine-sender")

    if _count_since(sender_history, now - limits.sender_window) >= limits.per_sender:
        return Verdict(False, "rate-limited-sender")
    if _count_since(case_history, now - limits.case_window) >= limits.per_case:
        return Verdict(False, "rate-limited-case")
    return Verdict(True, "allowed")


def reply_subject(subject: str, case_id: int) -> str:
    """Return "Re: <subject> [CS-000123]": one "Re:", and the case tag once."""
    base = _REPLY_PREFIX.sub("", subject).strip()
    tag = case_tag(case_id)
    if case_id not in case_numbers_in(base):
        base = f"{base} {tag}".strip()
    return f"Re: {base}"


def acknowledgement_headers(msg: ParsedMessage, *, case_id: int) -> dict[str, str]:
    """Return the threading and RFC 3834 headers of our automatic answer to `msg`."""
    references = [*msg.references]
    if msg.message_id not in references:
        references.append(msg.message_id)
    # RFC 5322 §3.6.4 lets a long References field be trimmed; keep the thread's root and the latest entries.
    if len(references) > _REFERENCES_KEPT:
        references = [references[0], *references[-(_REFERENCES_KEPT - 1) :]]
    return {
        # RFC 3834 §5.2: "auto-replied" marks a response generated automatically to another message, which
        # other responders (and ours) must not answer.
        "Auto-Submitted": "auto-replied",
        # Microsoft servers honour this instead of Auto-Submitted and then send no out-of-office back.
        "X-Auto-Response-Suppress": "All",
        # RFC 3834 §3.1.5: an automatic response carries In-Reply-To and References like any reply.
        "In-Reply-To": msg.message_id,
        "References": " ".join(references),
        # RFC 3834 §3.1.4 lets a service's response keep the original subject with a "Re:" prefix; the case tag
        # lets threading find the case when a client drops the references.
        "Subject": reply_subject(msg.subject, case_id),
    }
