"""Hostile input at the edges: template injection, CSV formulas, oversized bodies and foreign WebSocket origins."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from sqlmodel import col, select

from contact_center.channels.email.intake import take_in_message
from contact_center.models import OutboxChannel, OutboxMessage
from contact_center.reporting import csv_cell, to_csv
from contact_center.web.app import MAX_BODY_BYTES
from tests.security.routes import routes

TOO_BIG = MAX_BODY_BYTES + 1024
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _form(**fields: str) -> io.BytesIO:
    return io.BytesIO(urlencode(fields).encode())


def _email(sender_name: str, message_id: str) -> bytes:
    return (
        f'From: "{sender_name}" <eve@example.org>\r\nTo: help@example.test\r\nSubject: Help {{{{7*7}}}}\r\n'
        f"Message-ID: <{message_id}@example.org>\r\n\r\n"
        "My name is {{ 7*7 }} {% for x in range(3) %}x{% endfor %}\r\n"
    ).encode()


async def _acknowledgements(database) -> list[OutboxMessage]:
    async with database.transaction() as session:
        return list(
            (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.channel == OutboxChannel.EMAIL)
                    .order_by(col(OutboxMessage.id))
                )
            ).all()
        )


async def _take_in(database, clock, raw: bytes):
    return await take_in_message(
        database, raw, clock.now(), router=None, auto_reply=True, smtp_from="help@example.test"
    )


async def test_customer_text_is_data_in_templates_and_pages(login, database, clock):
    result = await _take_in(database, clock, _email("{{7*7}} {% raw %}", "tpl-1"))
    [ack] = await _acknowledgements(database)
    assert "{{7*7}}" in ack.body
    assert "49" not in ack.body
    alice = await login("alice")
    case = await alice.get(f"/api/v1/cases/CS-{result.case_id:06d}", expect=200)
    assert "{{7*7}}" in case["subject"]
    page = await alice.client.get(f"/cases/CS-{result.case_id:06d}")
    text = await page.text()
    assert "{{7*7}}" in text
    assert ">49<" not in text
    assert "xxx" not in text


SANDBOX_ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{% set x = namespace() %}{{ x.__class__.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ suggestions.append(1) }}",
]


async def test_an_admin_template_cannot_leave_the_sandbox_or_stop_the_mail(login, database, clock):
    alice = await login("alice")
    for n, attack in enumerate(SANDBOX_ESCAPES):
        response = await alice.client.put(
            "/api/v1/email-templates/acknowledgement/en",
            json={"subject": "Re: {{ subject }}", "text": f"Hi {{{{ name }}}} {attack}"},
            headers={"X-CSRF-Token": alice.csrf},
        )
        assert response.status in (200, 400), await response.text()
        result = await _take_in(database, clock, _email("Eve", f"escape-{n}"))
        # The message is a case either way; an acknowledgement the sandbox stopped is simply not sent.
        assert result.case_id is not None, attack
    for ack in await _acknowledgements(database):
        for leak in ("<class", "uid=", "module", "__"):
            assert leak not in ack.body


DANGEROUS_CELLS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR"]


def test_csv_cells_that_spreadsheets_would_run_are_neutralised():
    rows = list(csv.reader(io.StringIO(to_csv(["name", "n"], [[cell, 1] for cell in DANGEROUS_CELLS]))))
    assert [row[0] for row in rows[1:]] == ["'" + cell for cell in DANGEROUS_CELLS]
    assert rows[1][1] == "1"  # numbers stay numbers
    assert csv_cell(-3) == "-3"


def test_every_csv_export_goes_through_to_csv():
    # tests/contact_center/test_wallboard.py follows the one export today end to end; this catches new ones.
    root = Path(__file__).resolve().parents[2] / "contact_center"
    exporters = [path for path in root.rglob("*.py") if "text/csv" in path.read_text()]
    assert exporters
    for path in exporters:
        assert "to_csv(" in path.read_text(), f"{path} sends CSV without reporting.to_csv"


async def test_oversized_bodies_are_413_everywhere(login, portal, database, clock):
    from tests.portal.test_cases import open_case

    alice = await login("alice")
    response = await alice.client.post(
        "/api/v1/customers",
        data=io.BytesIO(b'{"name": "' + b"x" * TOO_BIG + b'"}'),
        headers={"X-CSRF-Token": alice.csrf, "Content-Type": "application/json"},
    )
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"
    # A webhook: refused before the signature is even checked.
    response = await alice.client.post("/twilio/sms", data=_form(Body="x" * TOO_BIG), headers=FORM)
    assert response.status == 413
    # A portal upload.
    anns = await open_case(database, clock, 1, "Ann's router")
    ann = await portal("ann@example.org")
    await ann.page(f"/portal/cases/{anns}")
    form = aiohttp.FormData()
    form.add_field("csrf_token", ann.csrf)
    form.add_field("body", "see attached")
    form.add_field("file", io.BytesIO(b"\0" * TOO_BIG), filename="huge.bin", content_type="application/octet-stream")
    response = await ann.client.post(f"/portal/cases/{anns}/reply", data=form, allow_redirects=False)
    assert response.status == 413
    # A staff form.
    response = await alice.client.post("/login", data=_form(username="x" * TOO_BIG), headers=FORM)
    assert response.status == 413


async def test_every_socket_refuses_a_foreign_origin(login):
    alice = await login("alice")
    sockets = [route.template for route in routes(alice.client.server.app) if route.socket]
    assert len(sockets) >= 3  # desktop, wallboard, chat
    for path in sockets:
        for origin in ("http://evil.example", "null", None, "http://127.0.0.1.evil.example"):
            headers = {"Origin": origin} if origin else {}
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await alice.client.ws_connect(path, headers=headers)
            assert refused.value.status == 403, (path, origin)
