"""Outbound messages: alternatives, our Message-ID, threading headers, non-ASCII done right."""
# ruff: noqa: RUF001 - Chinese and Russian text is the point of these tests, full-width punctuation included.

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from email_response.autoreply import acknowledgement_headers
from email_response.composing import OutboundAttachment, compose_message, make_message_id
from email_response.parsing import ParsedMessage, parse_message

from .conftest import parsed

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def reparse(message: EmailMessage) -> ParsedMessage:
    result = parse_message(message.as_bytes())
    assert isinstance(result, ParsedMessage)
    return result


def test_message_ids_are_unique_and_on_our_domain() -> None:
    first, second = make_message_id("Help.Example.TEST"), make_message_id("help.example.test")
    assert first != second
    assert first.startswith("<")
    assert first.endswith("@help.example.test>")


def test_text_with_an_html_alternative_and_threading_headers() -> None:
    message = compose_message(
        sender=("Support", "help@example.test"),
        to=[("Ann", "ann@example.org")],
        subject="Re: Printer [CS-000123]",
        text="Hello Ann",
        html="<p>Hello Ann</p>",
        message_id="<out-1@example.test>",
        date=NOW,
        in_reply_to="<m2@example.org>",
        references=["<m1@example.org>"],
    )
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    back = reparse(message)
    assert back.message_id == "<out-1@example.test>"
    assert back.in_reply_to == "<m2@example.org>"
    assert back.references == ("<m1@example.org>", "<m2@example.org>")
    assert back.text.strip() == "Hello Ann"
    assert back.date == NOW
    assert b"\r\n" in message.as_bytes()


def test_non_ascii_headers_and_bodies_are_encoded() -> None:
    message = compose_message(
        sender=("客服中心", "help@example.test"),
        to=[("张三", "zhang@example.cn")],
        subject="回复：打印机坏了 [CS-000007]",
        text="您好，我们已收到您的邮件。",
        html="<p>您好</p>",
        message_id="<out-2@example.test>",
        date=NOW,
    )
    raw = message.as_bytes()
    assert raw.isascii()  # RFC 2047 headers and a transfer encoding for the UTF-8 bodies
    back = reparse(message)
    assert back.subject == "回复：打印机坏了 [CS-000007]"
    assert back.sender is not None
    assert back.sender.name == "客服中心"
    assert back.to[0].name == "张三"
    assert back.text.strip() == "您好，我们已收到您的邮件。"


def test_acknowledgement_headers_replace_ours() -> None:
    original = parsed("From: ann@example.org\nSubject: Printer\nMessage-ID: <m1@example.org>\n\nbody\n")
    message = compose_message(
        sender="help@example.test",
        to=["ann@example.org"],
        subject="ignored",
        text="We have your message.",
        message_id=make_message_id("example.test"),
        date=NOW,
        headers=acknowledgement_headers(original, case_id=123),
    )
    assert message["Subject"] == "Re: Printer [CS-000123]"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["In-Reply-To"] == "<m1@example.org>"
    assert len(message.get_all("Subject") or []) == 1


def test_attachments_travel() -> None:
    message = compose_message(
        sender="help@example.test",
        to=["ann@example.org"],
        subject="Invoice",
        text="attached",
        html="<p>attached</p>",
        message_id="<out-3@example.test>",
        date=NOW,
        attachments=[OutboundAttachment("rechnung-ä.pdf", "application/pdf", b"%PDF-1.4 test")],
    )
    back = reparse(message)
    (attachment,) = back.attachments
    assert (attachment.filename, attachment.content_type, attachment.content) == (
        "rechnung-ä.pdf",
        "application/pdf",
        b"%PDF-1.4 test",
    )


def test_a_newline_in_the_subject_does_not_add_a_header() -> None:
    message = compose_message(
        sender="help@example.test",
        to=["ann@example.org"],
        subject="hi\r\nBcc: everyone@example.org",
        text="x",
        message_id="<out-4@example.test>",
        date=NOW,
    )
    assert message_from_bytes(message.as_bytes(), policy=policy.default)["Bcc"] is None


def test_a_naive_date_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        compose_message(
            sender="help@example.test",
            to=["a@b.c"],
            subject="x",
            text="x",
            message_id="<x@y>",
            date=datetime(2026, 1, 1),
        )
