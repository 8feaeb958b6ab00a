"""RFC 3834: when an acknowledgement may go out, the rate limits, and the headers it carries."""
# ruff: noqa: RUF001 - Chinese and Russian text is the point of these tests, full-width punctuation included.

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from email_response.autoreply import (
    AutoReplyLimits,
    Verdict,
    acknowledgement_headers,
    auto_reply_allowed,
    reply_subject,
)
from email_response.parsing import ParsedMessage, parse_message

from .conftest import CORPUS, parsed

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
OURS = {"help@example.test"}


def customer_mail(extra: str = "", sender: str = "Ann <ann@example.org>") -> ParsedMessage:
    return parsed(
        f"From: {sender}\nTo: help@example.test\nSubject: Printer\nMessage-ID: <m1@example.org>\n{extra}\nbody\n"
    )


def verdict(message: ParsedMessage, **kwargs):
    return auto_reply_allowed(message, now=NOW, own_addresses=OURS, **kwargs)


def test_a_customers_first_mail_is_acknowledged() -> None:
    assert verdict(customer_mail()) == Verdict(True, "allowed")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-replied", "auto-submitted"),
        ("Auto-Submitted: auto-generated", "auto-submitted"),
        ("Auto-Submitted: auto-notified; owner-email=x@y", "auto-submitted"),
        ("Precedence: bulk", "precedence-bulk"),
        ("Precedence: List", "precedence-bulk"),
        ("Precedence: junk", "precedence-bulk"),
        ("List-Id: <users.lists.example.org>", "mailing-list"),
        ("List-Unsubscribe: <mailto:leave@example.org>", "mailing-list"),
        ("Return-Path: <>", "null-return-path"),
        ("X-Auto-Response-Suppress: OOF, AutoReply", "auto-response-suppressed"),
        ("X-Autoreply: yes", "auto-submitted"),
        ("X-Loop: help@example.test", "mail-loop"),
    ],
)
def test_machine_mail_is_never_answered(header: str, reason: str) -> None:
    result = verdict(customer_mail(header + "\n"))
    assert not result.allowed
    assert result.reason == reason


def test_auto_submitted_no_is_a_person() -> None:
    assert verdict(customer_mail("Auto-Submitted: no\n")).allowed


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@mx.example.org",
        "postmaster@example.org",
        "no-reply@shop.example",
        "noreply@shop.example",
        "do-not-reply@shop.example",
        "owner-users@lists.example.org",
        "users-request@lists.example.org",
        "help@example.test",
    ],
)
def test_machine_and_own_senders_are_never_answered(sender: str) -> None:
    assert not verdict(customer_mail(sender=sender)).allowed


def test_delivery_reports_are_never_answered() -> None:
    bounce = parsed("""\
        From: Mail Delivery System <mailer@mx.example.org>
        Subject: Undelivered
        Content-Type: multipart/report; report-type=delivery-status; boundary="b"

        --b
        Content-Type: text/plain

        failed
        --b
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.example.org

        Final-Recipient: rfc822; ann@example.org
        Action: failed
        Status: 5.1.1
        --b--
        """)
    assert verdict(bounce).reason == "delivery-report"


def test_rate_limit_per_sender_and_per_case() -> None:
    limits = AutoReplyLimits(per_sender=2, sender_window=timedelta(hours=1), per_case=1, case_window=timedelta(days=1))
    mail = customer_mail()
    recent = [NOW - timedelta(minutes=5), NOW - timedelta(minutes=10)]
    assert verdict(mail, sender_history=recent, limits=limits).reason == "rate-limited-sender"
    assert verdict(mail, sender_history=[NOW - timedelta(hours=2)] * 5, limits=limits).allowed
    assert verdict(mail, case_history=[NOW - timedelta(hours=3)], limits=limits).reason == "rate-limited-case"
    assert verdict(mail, case_history=[NOW - timedelta(days=2)], limits=limits).allowed


def test_two_responders_cannot_ping_pong() -> None:
    """Even a responder that sets none of the headers gets at most per_sender answers per window."""
    history: list[datetime] = []
    now = NOW
    for _ in range(50):
        if auto_reply_allowed(customer_mail(sender="robot@example.net"), now=now, sender_history=history).allowed:
            history.append(now)
        now += timedelta(seconds=30)
    assert len(history) == AutoReplyLimits().per_sender


CORPUS_FILES = sorted(CORPUS.rglob("*.eml")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not CORPUS_FILES, reason="the email fixture corpus is not checked out next to the repo")
def test_no_bounce_report_or_automatic_message_of_the_corpus_is_answered() -> None:
    machine = 0
    for path in CORPUS_FILES:
        message = parse_message(path.read_bytes())
        if not isinstance(message, ParsedMessage):
            continue
        result = auto_reply_allowed(message, now=NOW)
        bounce_folder = {"bounce", "complaints", "multipart_report_emails"} & set(Path(path).parts)
        if bounce_folder or message.is_delivery_report or message.auto.auto_submitted not in (None, "no"):
            machine += 1
            assert not result.allowed, (path, result)
    assert machine >= 15


def test_acknowledgement_headers_thread_and_mark_the_answer_automatic() -> None:
    message = parsed("""\
        From: ann@example.org
        Subject: Re: AW: Printer broken
        Message-ID: <m2@example.org>
        References: <m0@example.org> <m1@example.org>

        body
        """)
    headers = acknowledgement_headers(message, case_id=123)
    assert headers["Auto-Submitted"] == "auto-replied"
    assert headers["In-Reply-To"] == "<m2@example.org>"
    assert headers["References"] == "<m0@example.org> <m1@example.org> <m2@example.org>"
    assert headers["Subject"] == "Re: Printer broken [CS-000123]"


def test_reply_subject_keeps_one_prefix_and_one_tag() -> None:
    assert reply_subject("Re: Printer [CS-000123]", 123) == "Re: Printer [CS-000123]"
    assert reply_subject("回复：打印机", 5) == "Re: 打印机 [CS-000005]"
    assert reply_subject("", 5) == "Re: [CS-000005]"


def test_a_long_thread_keeps_its_root_and_latest_references() -> None:
    refs = " ".join(f"<r{i}@x>" for i in range(40))
    headers = acknowledgement_headers(
        parsed(f"From: a@b.c\nMessage-ID: <last@x>\nReferences: {refs}\n\nx\n"), case_id=1
    )
    kept = headers["References"].split()
    assert kept[0] == "<r0@x>"
    assert kept[-1] == "<last@x>"
    assert len(kept) == 20
