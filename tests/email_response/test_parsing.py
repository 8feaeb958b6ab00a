"""Parsing: every message of the real-world corpus, and the details that matter on a dozen of them."""
# ruff: noqa: RUF001 - Chinese and Russian text is the point of these tests, full-width punctuation included.

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from email_response.parsing import (
    ParsedMessage,
    Unprocessable,
    hash_message_id,
    html_to_text,
    parse_message,
    sanitise_html,
)

from .conftest import CORPUS, mfs, parsed

CORPUS_FILES = sorted(CORPUS.rglob("*.eml")) if CORPUS.is_dir() else []


def fixture(corpus: Path, name: str) -> ParsedMessage:
    result = parse_message((corpus / name).read_bytes())
    assert isinstance(result, ParsedMessage), result
    return result


@pytest.mark.skipif(not CORPUS_FILES, reason="the email fixture corpus is not checked out next to the repo")
def test_every_corpus_message_parses_or_is_kept_as_unprocessable() -> None:
    assert len(CORPUS_FILES) >= 150
    outcomes = {}
    for path in CORPUS_FILES:
        raw = path.read_bytes()
        result = parse_message(raw)
        assert isinstance(result, ParsedMessage | Unprocessable), path
        assert result.raw == raw
        assert result.message_id.startswith("<")
        assert result.message_id.endswith(">")
        if isinstance(result, ParsedMessage):
            assert result.date is None or result.date.tzinfo is not None, path
            for text in (result.subject, result.text, result.sender.name if result.sender else ""):
                text.encode("utf-8")  # no lone surrogates left from undecodable bytes
            if result.html is not None:
                assert "<script" not in result.html.lower()
        outcomes[path.name] = type(result).__name__
    assert list(outcomes.values()).count("ParsedMessage") >= len(CORPUS_FILES) - 2


@pytest.mark.skipif(not CORPUS_FILES, reason="the email fixture corpus is not checked out next to the repo")
def test_every_truncation_of_a_corpus_message_is_handled() -> None:
    """Cutting a message anywhere (a dropped connection) still yields a result, never an exception."""
    raw = (CORPUS / "flanker/bounce/mailbox-full.eml").read_bytes()
    for cut in range(0, len(raw), max(1, len(raw) // 200)):
        assert isinstance(parse_message(raw[:cut]), ParsedMessage | Unprocessable)


def test_japanese_in_shift_jis_and_iso_2022(corpus: Path) -> None:
    assert "あいうえお" in fixture(corpus, "mikel-mail/multi_charset/japanese_shift_jis.eml").text
    iso = fixture(corpus, "mikel-mail/multi_charset/japanese_iso_2022.eml")
    assert iso.subject == "まみむめも"
    assert "すみません" in iso.text


def test_korean_under_a_charset_name_python_does_not_know(corpus: Path) -> None:
    assert "스티해" in fixture(corpus, "mikel-mail/multi_charset/ks_c_5601-1987.eml").text


def test_russian_subject_and_body(corpus: Path) -> None:
    message = fixture(corpus, "flanker/bilingual-simple.eml")
    assert message.subject == "Simple text. How are you? Как ты поживаешь?"
    assert "А эта линия по-русски" in message.text
    assert (
        "Превед" in fixture(corpus, "flanker/8bitmime.eml").text
        or "Превел" in fixture(corpus, "flanker/8bitmime.eml").text
    )


def test_encoded_and_raw_8bit_headers(corpus: Path) -> None:
    assert fixture(corpus, "flanker/encoded-header.eml").sender is not None
    assert fixture(corpus, "flanker/encoded-header.eml").sender.name == "Foo, Bar"  # type: ignore[union-attr]
    # Raw Latin-1 and raw UTF-8 bytes in headers (no RFC 2047) are decoded, not left as surrogates.
    assert fixture(corpus, "flanker/from-encoding.eml").sender.name == "Ingo Lütkebohle"  # type: ignore[union-attr]
    utf8 = fixture(corpus, "mikel-mail/rfc6532/utf8_headers.eml")
    assert utf8.subject == "Säying Hello"
    assert utf8.sender is not None
    assert utf8.sender.name == "Jöhn Doe"
    assert "漢字" in fixture(corpus, "mikel-mail/plain_emails/raw_email_with_partially_quoted_subject.eml").subject


def test_missing_final_boundary_keeps_the_body(corpus: Path) -> None:
    message = fixture(corpus, "flanker/missing-final-boundary.eml")
    assert message.text.strip() == "Some body"
    assert "CloseBoundaryNotFoundDefect" in message.defects


def test_a_boundary_policy_default_rejects_is_read_leniently(corpus: Path) -> None:
    message = fixture(corpus, "mikel-mail/mime_emails/raw_email_with_illegal_boundary.eml")
    assert message.text.startswith("Hello\nThis is an outlook test")


def test_obsolete_header_syntax_with_spaces_before_the_colon(corpus: Path) -> None:
    message = fixture(corpus, "mikel-mail/rfc2822/example13.eml")
    assert message.sender is not None
    assert message.sender.address == "jdoe@machine.example"


def test_delivery_status_notification(corpus: Path) -> None:
    bounce = fixture(corpus, "flanker/bounce/mailbox-full.eml")
    assert bounce.is_delivery_report
    assert bounce.report_type == "delivery-status"
    assert bounce.delivery_status is not None
    assert bounce.delivery_status.original_message_id == "<4E326A95.3010907@example.com>"
    (recipient,) = bounce.delivery_status.recipients
    assert recipient.address == "user@aol.com"
    assert recipient.status == "5.2.2"
    assert recipient.permanent

    delayed = fixture(corpus, "flanker/bounce/no-mx.eml")
    assert delayed.delivery_status is not None
    assert delayed.delivery_status.recipients[0].action == "delayed"
    assert not delayed.delivery_status.recipients[0].permanent

    several = fixture(corpus, "mikel-mail/multipart_report_emails/multi_address_bounce1.eml")
    assert several.delivery_status is not None
    assert len(several.delivery_status.recipients) == 5


def test_complaints_and_read_receipts_are_reports(corpus: Path) -> None:
    assert fixture(corpus, "flanker/complaints/aol.eml").report_type == "feedback-report"
    receipt = fixture(corpus, "flanker/disposition-notification.eml")
    assert receipt.is_delivery_report
    assert receipt.report_type == "disposition-notification"


def test_attachments_keep_names_types_and_bytes(corpus: Path) -> None:
    (attachment,) = fixture(corpus, "mikel-mail/attachment_emails/attachment_nonascii_filename.eml").attachments
    assert attachment.filename == "ciële.txt"
    assert attachment.size == len(attachment.content) == 11

    (forwarded,) = fixture(corpus, "mikel-mail/attachment_emails/attachment_message_rfc822.eml").attachments
    assert forwarded.content_type == "message/rfc822"
    assert forwarded.content.startswith(b"Return-Path") or b"Subject:" in forwarded.content

    # A message that is nothing but an attachment.
    (only,) = fixture(corpus, "flanker/outlook-express.eml").attachments
    assert only.content_type == "application/octet-stream"

    picture = fixture(corpus, "flanker/mailgun-pic.eml")
    assert picture.text.startswith("Мейлган! Хахах!")
    assert [a.filename for a in picture.attachments] == ["mailgun.png"]


def test_an_attachment_over_the_limit_is_kept_as_metadata(corpus: Path) -> None:
    result = parse_message((corpus / "flanker/mailgun-pic.eml").read_bytes(), max_attachment_bytes=1000)
    assert isinstance(result, ParsedMessage)
    (picture,) = result.attachments
    assert picture.too_large
    assert picture.size == 60168
    assert picture.content == b""


def test_an_oversize_message_keeps_headers_and_raw_bytes() -> None:
    raw = (
        mfs("""\
        From: Ann <ann@example.org>
        Subject: Scans
        Message-ID: <big@example.org>
        Content-Type: text/plain

        """)
        + b"x" * 5000
    )
    result = parse_message(raw, max_message_bytes=1000)
    assert isinstance(result, ParsedMessage)
    assert result.oversize
    assert result.sender is not None
    assert result.sender.address == "ann@example.org"
    assert result.message_id == "<big@example.org>"
    assert result.text == ""
    assert result.raw == raw
    assert result.size == len(raw)


def test_headers_threading_and_dates() -> None:
    message = parsed("""\
        From: "Ann Example" <Ann@Example.ORG>
        To: help@example.test, "Bob" <bob@example.test>
        Cc: carol@example.org
        Reply-To: ann.private@example.org
        Subject: =?utf-8?q?Drucker_kaputt?=
          [CS-000123]
        Date: Mon, 23 Nov 2026 11:00:00 +0100
        Message-ID: <reply-2@example.org>
        In-Reply-To: <ack-1@help.example.test>
        References: <first@example.org>
         <ack-1@help.example.test>

        Hallo
        """)
    assert message.sender is not None
    assert (message.sender.name, message.sender.address) == ("Ann Example", "ann@example.org")
    assert [m.address for m in message.to] == ["help@example.test", "bob@example.test"]
    assert [m.address for m in message.cc] == ["carol@example.org"]
    assert message.reply_address == "ann.private@example.org"
    assert message.subject == "Drucker kaputt [CS-000123]"
    assert message.date == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert message.in_reply_to == "<ack-1@help.example.test>"
    assert message.references == ("<first@example.org>", "<ack-1@help.example.test>")
    assert not message.message_id_generated


def test_a_message_without_message_id_gets_one_from_its_bytes() -> None:
    raw = mfs("""\
        From: ann@example.org
        Subject: no id

        Hello
        """)
    result = parse_message(raw)
    assert isinstance(result, ParsedMessage)
    assert result.message_id == hash_message_id(raw)
    assert result.message_id.endswith("@hash.invalid>")
    assert result.message_id_generated
    assert parse_message(raw).message_id == result.message_id  # stable: the same bytes, the same id


def test_undeclared_chinese_in_a_header_is_read_as_gbk() -> None:
    raw = mfs("""\
        From: help@example.org
        Subject: PLACEHOLDER

        body
        """).replace(b"PLACEHOLDER", "打印机坏了".encode("gbk"))
    result = parse_message(raw)
    assert isinstance(result, ParsedMessage)
    assert result.subject == "打印机坏了"


def test_chinese_body_in_gb2312() -> None:
    raw = mfs("""\
        From: =?gb2312?b?1cXI/Q==?= <zhang@example.cn>
        Subject: =?gb2312?b?tPLTobv6?=
        Content-Type: text/plain; charset=gb2312
        Content-Transfer-Encoding: 8bit

        PLACEHOLDER
        """).replace(b"PLACEHOLDER", "我的打印机坏了，请帮忙。".encode("gb2312"))
    result = parse_message(raw)
    assert isinstance(result, ParsedMessage)
    assert result.sender is not None
    assert result.sender.name == "张三"
    assert result.subject == "打印机"
    assert result.text.strip() == "我的打印机坏了，请帮忙。"


def test_html_only_message_gets_text_and_sanitised_html() -> None:
    message = parsed("""\
        From: ann@example.org
        Subject: html
        Content-Type: text/html; charset=utf-8

        <html><head><style>p {color: red}</style><script>alert(1)</script></head>
        <body onload="steal()"><p>Hello <b>there</b></p><p><a href="javascript:alert(1)">click</a>
        <a href="https://example.org/help">help</a><img src="https://tracker.example/p.gif">
        <img src="cid:logo@x"></p></body></html>
        """)
    assert message.text == "Hello there\n\nclick help"
    html = message.html or ""
    assert "script" not in html
    assert "alert" not in html
    assert "onload" not in html
    assert "javascript:" not in html
    assert 'href="https://example.org/help"' in html
    assert "tracker.example" not in html  # remote images are dropped: they tell the sender we read the mail
    assert 'src="cid:logo@x"' in html


def test_sanitiser_keeps_harmless_styles_only() -> None:
    html = sanitise_html('<p style="color: red; background-image: url(https://x.example/a)">x</p>')
    assert "color:red" in html.replace(" ", "")
    assert "url(" not in html


def test_html_to_text_drops_scripts_and_keeps_blocks() -> None:
    assert html_to_text("<div>one</div><script>x()</script><div>two<br>three</div>") == "one\n\ntwo\nthree"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message"),
        (b"   \r\n\r\n", "empty message"),
        (b"\r\n\r\njust a body without any header", "no message headers found"),
    ],
)
def test_nothing_usable_is_unprocessable(raw: bytes, reason: str) -> None:
    result = parse_message(raw)
    assert isinstance(result, Unprocessable)
    assert result.reason == reason
    assert result.raw == raw
    assert result.message_id == hash_message_id(raw)


def test_garbage_bytes_never_raise() -> None:
    for raw in (
        b"\x00\xff" * 100,
        b"From: \xff\xfe\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n--\r\n",
        b":" * 50,
    ):
        assert isinstance(parse_message(raw), ParsedMessage | Unprocessable)


def test_a_deep_nesting_does_not_exhaust_the_stack() -> None:
    depth = 200
    head = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(depth))
    tail = "".join(f"\r\n--b{i}--\r\n" for i in reversed(range(depth)))
    raw = (
        "From: ann@example.org\r\nSubject: deep\r\n" + head + "Content-Type: text/plain\r\n\r\nbottom" + tail
    ).encode()
    assert isinstance(parse_message(raw), ParsedMessage | Unprocessable)
