"""Turning raw RFC 5322 bytes into a `ParsedMessage` the rest of the package and the app can rely on.

`parse_message(raw)` never raises. It parses with the standard library's `email.policy.default`; where a header
or a part defeats that policy it falls back to the raw header text (`Message.raw_items()`, RFC 2047 decoding by
`email.header`) or to decoding the part's bytes with replacement characters. It returns `Unprocessable` only
when nothing usable is left (no bytes, no recognisable header). The app keeps the raw bytes in both cases, so a
message can be re-parsed after a fix ("reprocess").

What the app gets:
- `message_id`: the Message-ID as written (`<...>`), or `<sha256-of-raw@hash.invalid>` when missing, so that
  de-duplication by Message-ID also works for messages without one (`message_id_generated` says which).
- `text`: from text/plain, else derived from the HTML; `html`: sanitised with `nh3` (see `sanitise_html`).
- `attachments`: every non-body leaf part; one over `max_attachment_bytes` keeps its metadata and
  `too_large=True` but no content.
- `auto`: the headers RFC 3834 checks need (see `email_response.autoreply`).
- `is_delivery_report` and `delivery_status`: DSNs (RFC 3464) and other `multipart/report` messages, with the
  original Message-ID and the failed recipients so the app can match a bounce to what it sent.
- `oversize`: the message is over `max_message_bytes`; only its headers were parsed, so the app can store the
  raw bytes, flag the message and tell the sender.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import collapse_rfc2231_value, getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

import nh3

__all__ = [
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "Attachment",
    "AutoResponseHeaders",
    "DeliveryStatus",
    "FailedRecipient",
    "Mailbox",
    "ParsedMessage",
    "Unprocessable",
    "hash_message_id",
    "html_to_text",
    "parse_message",
    "sanitise_html",
]

DEFAULT_MAX_MESSAGE_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024

_MSGID = re.compile(r"<[^<>\s]+>")
_WS = re.compile(r"\s+")
# Charsets mail clients write that Python's codec registry does not know by that name.
_CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "x-sjis": "shift_jis",
    "x-gbk": "gbk",
    "gb2312": "gb18030",  # GB2312 mail is routinely GBK or GB18030 in practice; the superset decodes all three.
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "x-user-defined": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "utf8": "utf-8",
}


@dataclass(frozen=True)
class Mailbox:
    """One address: the display name as written and the address lower-cased (local part included)."""

    name: str
    address: str


@dataclass(frozen=True)
class Attachment:
    """A part that is not the message body; `content` is empty when `too_large`."""

    filename: str | None
    content_type: str
    size: int
    content: bytes = field(repr=False)
    too_large: bool = False
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True)
class AutoResponseHeaders:
    """The header values RFC 3834 and common practice use to recognise mail that must not be answered."""

    auto_submitted: str | None = None
    precedence: str | None = None
    list_headers: tuple[str, ...] = ()
    return_path: str | None = None
    x_auto_response_suppress: str | None = None
    x_autoreply: str | None = None
    x_loop: tuple[str, ...] = ()


@dataclass(frozen=True)
class FailedRecipient:
    """One recipient block of a delivery status notification (RFC 3464 §2.3)."""

    address: str
    action: str
    status: str
    diagnostic: str | None = None

    @property
    def permanent(self) -> bool:
        """Return True for a permanent failure (status class 5, RFC 3463 §3.1)."""
        return self.action == "failed" or self.status.startswith("5")


@dataclass(frozen=True)
class DeliveryStatus:
    """What a DSN says: the message it reports on and the outcome per recipient."""

    original_message_id: str | None
    recipients: tuple[FailedRecipient, ...]


@dataclass(frozen=True)
class ParsedMessage:
    """A message as the app stores and threads it; every field is decoded text or plain data."""

    message_id: str
    message_id_generated: bool
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    sender: Mailbox | None
    to: tuple[Mailbox, ...]
    cc: tuple[Mailbox, ...]
    reply_to: tuple[Mailbox, ...]
    date: datetime | None
    text: str
    html: str | None
    attachments: tuple[Attachment, ...]
    auto: AutoResponseHeaders
    is_delivery_report: bool
    report_type: str | None
    delivery_status: DeliveryStatus | None
    oversize: bool
    size: int
    defects: tuple[str, ...] = ()
    raw: bytes = field(default=b"", repr=False, compare=False)

    @property
    def reply_address(self) -> str | None:
        """Return where an answer goes: the first Reply-To, else the sender."""
        if self.reply_to:
            return self.reply_to[0].address
        return self.sender.address if self.sender else None


@dataclass(frozen=True)
class Unprocessable:
    """A message nothing usable could be read from; the app stores the raw bytes for an admin to look at."""

    reason: str
    message_id: str
    size: int
    raw: bytes = field(default=b"", repr=False, compare=False)


def hash_message_id(raw: bytes) -> str:
    """Return the stand-in Message-ID for a message without one: the SHA-256 of its raw bytes."""
    return f"<{hashlib.sha256(raw).hexdigest()}@hash.invalid>"


def parse_message(
    raw: bytes,
    *,
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> ParsedMessage | Unprocessable:
    """Parse raw message bytes; never raise, return Unprocessable when nothing usable is left."""
    try:
        return _parse(raw, max_attachment_bytes, max_message_bytes)
    except Exception as exc:  # the contract is "never raise": anything unforeseen is kept raw.
        return Unprocessable(
            reason=f"parser failure: {type(exc).__name__}: {exc}"[:500],
            message_id=hash_message_id(raw if isinstance(raw, bytes) else b""),
            size=len(raw) if isinstance(raw, bytes) else 0,
            raw=raw if isinstance(raw, bytes) else b"",
        )


def _parse(raw: bytes, max_attachment_bytes: int, max_message_bytes: int) -> ParsedMessage | Unprocessable:
    if not raw.strip():
        return Unprocessable("empty message", hash_message_id(raw), len(raw), raw)
    oversize = len(raw) > max_message_bytes
    # Parsing 25 MB of MIME only to throw it away would cost time and memory; the headers say who to tell.
    msg: Message = (
        BytesHeaderParser(policy=_POLICY).parsebytes(raw) if oversize else message_from_bytes(raw, policy=_POLICY)
    )
    if not any(name.strip() for name, _ in msg.raw_items()):
        # RFC 5322 §4.5 obsolete syntax allows spaces before a header's colon ("Subject  : hi"), which the
        # standard library's parser does not accept; retry once with those spaces removed.
        repaired = _repair_obsolete_names(raw)
        if repaired != raw:
            msg = message_from_bytes(repaired, policy=_POLICY)
        if not any(name.strip() for name, _ in msg.raw_items()):
            return Unprocessable("no message headers found", hash_message_id(raw), len(raw), raw)

    message_id = _first_msgid(_header(msg, "message-id"))
    defects = [type(defect).__name__ for defect in getattr(msg, "defects", [])]
    text: str = ""
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    if not oversize:
        text, html, attachments = _bodies(_structure(msg, raw), max_attachment_bytes, defects)
    report_type, status = _report(msg) if not oversize else (None, None)
    content_type = _content_type(msg)
    is_report = report_type is not None or content_type in _REPORT_TYPES

    return ParsedMessage(
        message_id=message_id or hash_message_id(raw),
        message_id_generated=message_id is None,
        in_reply_to=_first_msgid(_header(msg, "in-reply-to")),
        references=tuple(_MSGID.findall(_header(msg, "references") or "")),
        subject=_one_line(_header(msg, "subject") or ""),
        sender=next(iter(_mailboxes(msg, "from")), None),
        to=_mailboxes(msg, "to"),
        cc=_mailboxes(msg, "cc"),
        reply_to=_mailboxes(msg, "reply-to"),
        date=_date(msg),
        text=text,
        html=html,
        attachments=attachments,
        auto=_auto_headers(msg),
        is_delivery_report=is_report,
        report_type=report_type or (content_type if content_type in _REPORT_TYPES else None),
        delivery_status=status,
        oversize=oversize,
        size=len(raw),
        defects=tuple(dict.fromkeys(defects)),
        raw=raw,
    )


# The MIME headers the body search reads again and again (`get_body`, content types, filenames, charsets).
_MIME_HEADERS = frozenset({"content-type", "content-disposition", "content-transfer-encoding"})
_ABSENT = object()


class _ParsedPart(EmailMessage):
    """An `EmailMessage` that parses each of its MIME headers once for as long as its headers do not change.

    `policy.default` builds a header object every time a header is read, and parsing and then finding the bodies
    and attachments read a part's Content-Type a dozen times or more (the parser itself five times a message,
    then `get_body`, `get_content_type`, `get_param`, `is_attachment`). While a part is parsed its headers are
    only ever added, and a parsed message is never changed afterwards, so an answer stays the answer as long as
    the part has as many headers as when it was given.
    """

    _mime: dict[str, Any] | None = None
    _mime_count = -1

    def get(self, name: str, failobj: Any = None) -> Any:
        """Return a header like `Message.get`, a MIME header parsed once per state of the part's headers."""
        key = name.lower()
        if key not in _MIME_HEADERS:
            return super().get(name, failobj)
        count = len(self)
        known = self._mime
        if known is None or self._mime_count != count:
            known = self._mime = {}
            self._mime_count = count
        value = known.get(key, _ABSENT)
        if value is _ABSENT:
            # A header the policy cannot parse raises here each time, exactly as without the cache.
            value = known[key] = super().get(name, _ABSENT)
        return failobj if value is _ABSENT else value


_POLICY = policy.default.clone(message_factory=_ParsedPart)


def _repair_obsolete_names(raw: bytes) -> bytes:
    head, sep, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    fixed = re.sub(rb"(?m)^([!-9;-~]+)[ \t]+:", rb"\1:", head)
    return fixed + sep + body


def _structure(msg: Message, raw: bytes) -> Message:
    """Return the message to read bodies from: compat32's parse when policy.default lost a multipart's parts."""
    if _content_type(msg).startswith("multipart/") and isinstance(msg.get_payload(), str):
        # policy.default rejects some boundaries real mailers write (unquoted, with "="); compat32 accepts them.
        lenient = message_from_bytes(raw, policy=policy.compat32)
        if isinstance(lenient.get_payload(), list):
            return lenient
    return msg


# --- headers ---------------------------------------------------------------------------------------------------


def _raw_header(msg: Message, name: str) -> str | None:
    return next((str(value) for key, value in msg.raw_items() if key.lower() == name), None)


def _is_8bit(value: str | None) -> bool:
    return value is not None and not value.isascii()


def _header(msg: Message, name: str) -> str | None:
    """Return a header decoded by policy.default, else by RFC 2047 decoding of the raw value, else None."""
    raw_value = _raw_header(msg, name)
    if _is_8bit(raw_value):
        # Raw 8-bit bytes (RFC 6532 UTF-8, or an undeclared legacy charset): policy.default turns what is not
        # UTF-8 into U+FFFD, so decode the bytes ourselves.
        return _decode_raw_header(raw_value)
    try:
        value = msg.get(name)
        if value is not None:
            return _clean(str(value))
    except Exception:  # noqa: S110 - policy.default's header classes reject some real-world values.
        pass
    for key, raw_value in msg.raw_items():
        if key.lower() == name:
            return _decode_raw_header(raw_value)
    return None


def _clean(text: str) -> str:
    """Return text with undecodable raw bytes (kept by the parser as surrogates) decoded as UTF-8 or cp1252."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _guess_decode(text.encode("utf-8", "surrogateescape"))
    return text


def _guess_decode(data: bytes) -> str:
    """Decode bytes of unknown charset: UTF-8 when that is (nearly) what they are, else Windows-1252."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # A stray invalid byte in otherwise UTF-8 text (common in hand-made headers) should not turn the rest into
    # mojibake; a Latin-1 text, by contrast, fails UTF-8 on nearly every non-ASCII byte.
    lenient = data.decode("utf-8", "replace")
    high = sum(1 for byte in data if byte > 0x7F)
    if lenient.count("\ufffd") * 4 < high:
        return lenient
    # Undeclared Chinese (GB2312/GBK, e.g. Outlook Express filenames) fails UTF-8 too. GB2312 needs every
    # non-ASCII byte to pair with another in 0xA1-0xFE, which Latin-1 text with its lone accents rarely does.
    try:
        chinese = data.decode("gb2312")
    except UnicodeDecodeError:
        pass
    else:
        if sum(1 for char in chinese if "\u4e00" <= char <= "\u9fff") >= 2:
            return data.decode("gb18030", "replace")
    return data.decode("cp1252", "replace")


def _decode_raw_header(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    try:
        pieces = []
        for chunk, charset in decode_header(text):
            if isinstance(chunk, bytes):
                pieces.append(_decode_bytes(chunk, charset))
            else:
                pieces.append(chunk)
        return _clean("".join(pieces))
    except Exception:  # a header we cannot decode is still better shown as written.
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _all_headers(msg: Message, name: str) -> list[str]:
    return [_decode_raw_header(value) for key, value in msg.raw_items() if key.lower() == name]


def _one_line(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _first_msgid(value: str | None) -> str | None:
    if not value:
        return None
    found = _MSGID.search(value)
    if found:
        return found.group(0)
    # Some clients drop the angle brackets; a single token with an @ is still clearly an id.
    token = value.strip()
    if token and "@" in token and not _WS.search(token):
        return f"<{token}>"
    return None


def _mailboxes(msg: Message, name: str) -> tuple[Mailbox, ...]:
    found: list[Mailbox] = []
    try:
        if _is_8bit(_raw_header(msg, name)):
            raise ValueError("8-bit header: use the lenient parser")
        header = msg.get(name)
        addresses = getattr(header, "addresses", None)
        if addresses is not None:
            for address in addresses:
                addr_spec = _clean(f"{address.username}@{address.domain}")
                if address.username and address.domain and not _WS.search(addr_spec):
                    found.append(Mailbox(_clean(address.display_name), addr_spec.lower()))
            if found:
                return tuple(found)
    except Exception:  # noqa: S110 - fall back to the lenient compat32 address parser below.
        pass
    for value in _all_headers(msg, name):
        for display, address in getaddresses([value]):
            address = address.strip()
            if "@" in address and not _WS.search(address):
                found.append(Mailbox(_one_line(display), address.lower()))
    return tuple(found)


def _date(msg: Message) -> datetime | None:
    try:
        header = msg.get("date")
        value = getattr(header, "datetime", None)
    except Exception:  # an unparseable date header is common; try the lenient parser.
        value = None
    if value is None:
        raw_value = next((v for k, v in msg.raw_items() if k.lower() == "date"), None)
        if raw_value is None:
            return None
        try:
            value = parsedate_to_datetime(str(raw_value))
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if not isinstance(value, datetime):
        return None
    # RFC 5322 §3.3: "-0000" means the local offset is unknown; Python returns a naive datetime for it.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _auto_headers(msg: Message) -> AutoResponseHeaders:
    names = {key.lower() for key, _ in msg.raw_items()}

    def first(name: str) -> str | None:
        values = _all_headers(msg, name)
        return _one_line(values[0]) if values else None

    return AutoResponseHeaders(
        auto_submitted=first("auto-submitted"),
        precedence=first("precedence"),
        list_headers=tuple(sorted(name for name in names if name.startswith("list-"))),
        return_path=first("return-path"),
        x_auto_response_suppress=first("x-auto-response-suppress"),
        x_autoreply=first("x-autoreply") or first("x-autorespond"),
        x_loop=tuple(_one_line(value) for value in _all_headers(msg, "x-loop")),
    )


# --- bodies and attachments ------------------------------------------------------------------------------------


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # a broken Content-Type header means plain text (RFC 2045 §5.2).
        return "text/plain"


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # a broken Content-Disposition still leaves the part usable.
        name = None
    if name is None:
        try:
            param = part.get_param("name")
        except Exception:  # as above.
            param = None
        # compat32 (our fallback parser) gives RFC 2231 parameters as (charset, language, value) triples.
        name = collapse_rfc2231_value(param) if param else None
    return _one_line(_decode_raw_header(name)) if name else None


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:  # see _filename.
        return None


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode bytes in the declared charset, with replacement; guess UTF-8 then Windows-1252 when unknown."""
    name = (charset or "").strip().strip('"').lower()
    name = _CHARSET_ALIASES.get(name, name)
    if name and name not in ("us-ascii", "ascii", "7bit", "8bit"):
        try:
            codecs.lookup(name)
        except LookupError:
            name = ""
        else:
            return data.decode(name, "replace")
    # No charset, ASCII declared (yet 8-bit bytes are common) or an unknown charset: guess.
    return _guess_decode(data)


def _payload_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # a broken transfer encoding: use the undecoded text.
        payload = None
    if isinstance(payload, bytes):
        return payload
    try:
        raw_payload = part.get_payload()
    except Exception:  # nothing left to read.
        return b""
    if isinstance(raw_payload, str):
        return raw_payload.encode("utf-8", "surrogateescape")
    return b""


def _part_text(part: Message) -> str:
    try:
        charset = part.get_content_charset()
    except Exception:  # a broken charset parameter: guess.
        charset = None
    return _decode_bytes(_payload_bytes(part), charset).replace("\r\n", "\n").replace("\r", "\n")


def _leaves(part: Message, depth: int = 0) -> Iterator[Message]:
    """Yield the leaf parts, descending into multiparts only: an attached message stays one attachment."""
    payload = part.get_payload()
    if part.is_multipart() and _content_type(part).startswith("multipart/") and isinstance(payload, list):
        if depth > 50:  # a deliberately deep nesting must not exhaust the stack
            return
        for child in payload:
            if isinstance(child, Message):
                yield from _leaves(child, depth + 1)
    else:
        yield part


def _body_part(msg: Message, subtype: str) -> Message | None:
    if isinstance(msg, EmailMessage):
        try:
            found = msg.get_body(preferencelist=(subtype,))
        except Exception:  # fall back to a walk below.
            found = None
        if found is not None:
            return found
    for part in _leaves(msg):
        if _content_type(part) == f"text/{subtype}" and _disposition(part) != "attachment" and not _filename(part):
            return part
    return None


def _bodies(
    msg: Message, max_attachment_bytes: int, defects: list[str]
) -> tuple[str, str | None, tuple[Attachment, ...]]:
    plain = _body_part(msg, "plain")
    html_part = _body_part(msg, "html")
    html = sanitise_html(_part_text(html_part)) if html_part is not None else None
    if plain is not None:
        text = _part_text(plain)
    elif html_part is not None:
        text = html_to_text(_part_text(html_part))
    elif _content_type(msg).startswith(("text/", "multipart/")) and isinstance(msg.get_payload(), str):
        # A text part we did not choose, or a multipart whose parts no parser could find: show it as written.
        text = _part_text(msg)
    else:
        text = ""

    attachments = []
    for part in _leaves(msg):
        if part is plain or part is html_part:
            continue
        if part is msg and _content_type(msg).startswith(("text/", "multipart/")):
            continue
        defects.extend(type(defect).__name__ for defect in getattr(part, "defects", []))
        attachments.append(_attachment(part, max_attachment_bytes))
    return text, html, tuple(attachments)


def _attachment(part: Message, max_bytes: int) -> Attachment:
    content_type = _content_type(part)
    content = _as_bytes(part) if content_type == "message/rfc822" or part.is_multipart() else _payload_bytes(part)
    content_id = _first_msgid(_header(part, "content-id"))
    too_large = len(content) > max_bytes
    return Attachment(
        filename=_filename(part),
        content_type=content_type,
        size=len(content),
        content=b"" if too_large else content,
        too_large=too_large,
        inline=_disposition(part) == "inline" or (content_id is not None and _disposition(part) is None),
        content_id=content_id,
    )


def _as_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload and _is_message(part) else part
    if not isinstance(inner, Message):
        return b""
    for chosen_policy in (policy.default, policy.compat32):
        try:
            return inner.as_bytes(policy=chosen_policy)
        except Exception:  # noqa: S112 - try the more lenient generator next.
            continue
    return b""


def _is_message(part: Message) -> bool:
    """Return True for a message/* part whose payload is the enclosed message."""
    return _content_type(part).startswith("message/")


# --- delivery reports ------------------------------------------------------------------------------------------

_REPORT_TYPES = frozenset(
    {"message/delivery-status", "message/disposition-notification", "message/feedback-report", "multipart/report"}
)


def _report(msg: Message) -> tuple[str | None, DeliveryStatus | None]:
    report_type = None
    if _content_type(msg) == "multipart/report":
        try:
            report_type = str(msg.get_param("report-type") or "unknown").lower()
        except Exception:  # a report without a readable report-type is still a report.
            report_type = "unknown"
    status_part = next((p for p in _walk_all(msg) if _content_type(p) == "message/delivery-status"), None)
    if status_part is None:
        return report_type, None
    report_type = report_type or "delivery-status"
    recipients = []
    for block in _status_blocks(status_part):
        recipient = block.get("final-recipient") or block.get("original-recipient")
        if not recipient:
            continue
        address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
        recipients.append(
            FailedRecipient(
                address=address,
                action=(block.get("action") or "").strip().lower(),
                status=(block.get("status") or "").strip(),
                diagnostic=_one_line(block["diagnostic-code"]) if block.get("diagnostic-code") else None,
            )
        )
    return report_type, DeliveryStatus(_original_message_id(msg), tuple(recipients))


def _walk_all(msg: Message) -> Iterator[Message]:
    # A broken structure: what was yielded before the failure is what we have.
    with contextlib.suppress(Exception):
        yield from msg.walk()


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """Return the header blocks of a message/delivery-status part as lower-cased dicts (RFC 3464 §2.1)."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                blocks.append({k.lower(): _decode_raw_header(v) for k, v in block.raw_items()})
        return blocks
    text = _part_text(part)
    for chunk in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in chunk.splitlines():
            name, sep, value = line.partition(":")
            if sep and not line[:1].isspace():
                fields[name.strip().lower()] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def _original_message_id(msg: Message) -> str | None:
    for part in _walk_all(msg):
        kind = _content_type(part)
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                found = _first_msgid(_header(payload[0], "message-id"))
                if found:
                    return found
        elif kind in ("text/rfc822-headers", "message/rfc822-headers", "text/rfc822-header"):
            headers = BytesHeaderParser(policy=policy.compat32).parsebytes(_payload_bytes(part))
            found = _first_msgid(_header(headers, "message-id"))
            if found:
                return found
    return None


# --- HTML ------------------------------------------------------------------------------------------------------

# Remote images are not allowed: an image fetched from the sender's server when an agent opens the message tells
# the sender that (and when) we read it, which is how tracking pixels work. Inline images (`cid:`, the message's
# own parts) stay; the app rewrites `cid:` to its attachment URLs. Links keep http(s) and mailto only.
_URL_SCHEMES = {"http", "https", "mailto", "cid"}
_STYLE_PROPERTIES = {
    "color",
    "background-color",
    "font-weight",
    "font-style",
    "font-size",
    "font-family",
    "text-align",
    "text-decoration",
    "margin",
    "padding",
    "border",
    "width",
    "height",
}


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src" and not value.strip().lower().startswith("cid:"):
        return None
    return value


def sanitise_html(html: str) -> str:
    """Return HTML safe to show an agent: no scripts, event handlers, javascript: URLs or remote images."""
    attributes = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
    attributes.setdefault("img", set()).update({"src", "alt", "width", "height"})
    generic = {"style", "title", "dir", "lang", "align"}
    for tag in nh3.ALLOWED_TAGS:
        attributes.setdefault(tag, set()).update(generic)
    return str(
        nh3.clean(
            html,
            attributes=attributes,
            attribute_filter=_filter_attribute,
            url_schemes=_URL_SCHEMES,
            filter_style_properties=_STYLE_PROPERTIES,
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
        )
    )


_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "hr", "ul", "ol"}
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skip = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip += 1
            return
        if tag == "pre":
            self._pre += 1
        if tag in _BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip = max(0, self._skip - 1)
            return
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
        if tag in _BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        # As a browser does: runs of whitespace in HTML source are one space, except inside <pre>.
        self.pieces.append(data if self._pre else _WS.sub(" ", data))


def html_to_text(html: str) -> str:
    """Return the readable text of an HTML body: one line per block, scripts and styles dropped."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except Exception:  # noqa: S110 - HTMLParser is lenient, but the text so far is still worth keeping.
        pass
    lines = (" ".join(line.split()) for line in "".join(extractor.pieces).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
