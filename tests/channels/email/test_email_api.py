"""Email over HTTP: agents' replies (free text and templates), spell check, templates, kept mail, bounces, figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from contact_center.channels.base import TransportError
from contact_center.channels.email.bounces import suppression_check
from contact_center.channels.email.intake import IntakeOutcome, take_in_message
from contact_center.channels.email.transport import EmailTransport
from contact_center.models import Case, CaseEvent, EventKind, OutboxMessage
from contact_center.models.email import EmailBounce, EmailSuppression, EmailUnprocessable, SentEmail
from email_response.smtp import SmtpSender

from .conftest import HELP, mfs

FIRST = mfs("""\
    From: Ann Archer <ann@example.org>
    To: Help <help@example.test>
    Subject: Invoice {{7*7}} is wrong
    Message-ID: <ann-1@example.org>

    My invoice shows the wrong amount.
    """)


async def take(database, clock, raw, **kwargs):
    return await take_in_message(database, raw, clock.now(), router=None, auto_reply=True, smtp_from=HELP, **kwargs)


async def outbox(database, case_id):
    async with database.transaction() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.case_id == case_id).order_by(col(OutboxMessage.id))
        )
        return list(rows.all())


async def test_an_agents_reply_threads_under_the_customers_mail_both_ways(login, database, clock):
    first = await take(database, clock, FIRST)
    bob = await login("bob")

    sent = await bob.post(
        f"/api/v1/cases/{first.case_id}/email-replies", {"text": "We corrected it, sorry."}, expect=201
    )

    assert sent["to"] == "ann@example.org"
    assert sent["subject"] == f"Re: Invoice {{{{7*7}}}} is wrong [CS-{first.case_id:06d}]"
    [_ack, reply] = await outbox(database, first.case_id)
    assert reply.id == sent["outbox_id"]
    assert reply.headers["Message-ID"] == sent["message_id"]
    assert reply.headers["In-Reply-To"] == "<ann-1@example.org>"
    # The thread: the customer's message, our acknowledgement, and nothing of anyone else's.
    references = reply.headers["References"].split()
    assert references[0] == "<ann-1@example.org>"
    assert len(references) == 2
    timeline = await bob.get(f"/api/v1/cases/{first.case_id}/timeline")
    out = [e for e in timeline if e["kind"] == "message_out"]
    assert out[-1]["data"]["outbox_id"] == sent["outbox_id"]
    assert out[-1]["body"] == "We corrected it, sorry."

    # Ann's client keeps only In-Reply-To (our reply's id) and drops the case number: it still threads.
    answer = mfs(f"""\
        From: ann@example.org
        To: help@example.test
        Subject: thanks
        Message-ID: <ann-2@example.org>
        In-Reply-To: {sent["message_id"]}

        Thanks!
        """)
    result = await take(database, clock, answer)
    assert (result.outcome, result.case_id) == (IntakeOutcome.THREADED, first.case_id)


async def test_a_template_reply_is_rendered_in_the_asked_language_with_the_case(login, database, clock):
    first = await take(database, clock, FIRST)
    bob = await login("bob")

    sent = await bob.post(
        f"/api/v1/cases/{first.case_id}/email-replies", {"template": "resolved", "language": "zh"}, expect=201
    )

    [_ack, reply] = await outbox(database, first.case_id)
    assert "已经解决" in reply.body
    assert f"CS-{first.case_id:06d}" in reply.body
    # The customer's subject is data: {{7*7}} stays as written.
    assert "Invoice {{7*7}} is wrong" in reply.body
    assert "49" not in reply.body
    assert reply.body.rstrip().endswith("Bob")
    assert sent["subject"].endswith(f"[CS-{first.case_id:06d}]")


@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 400), ({"text": "  "}, 400), ({"template": "no-such-template"}, 404), ({"text": "x", "extra": 1}, 400)],
)
async def test_a_bad_reply_request_is_a_clear_error(login, database, clock, body, status):
    first = await take(database, clock, FIRST)
    bob = await login("bob")
    error = await bob.post(f"/api/v1/cases/{first.case_id}/email-replies", body, expect=status)
    assert error["error"]["message"]
    assert len(await outbox(database, first.case_id)) == 1  # the acknowledgement only


async def test_spellcheck_flags_words_with_offsets_and_suggestions(login):
    bob = await login("bob")
    text = "Thank you for your pateince, Ann. See https://example.com/recieve or CS-000123."
    result = await bob.post("/api/v1/spellcheck", {"text": text, "language": "en"}, expect=200)
    [word] = result["misspelt"]
    assert text[word["start"] : word["end"]] == "pateince"
    assert "patience" in word["suggestions"]

    french = await bob.post("/api/v1/spellcheck", {"text": "Merci pour votre pateince", "language": "fr"})
    assert [m["word"] for m in french["misspelt"]] == ["pateince"]
    assert (await bob.post("/api/v1/spellcheck", {"text": "您好", "language": "zh"}, expect=200))["misspelt"] == []
    error = await bob.post("/api/v1/spellcheck", {"text": "hello", "language": "tlh"}, expect=400)
    assert error["error"]["details"]["field"] == "language"


async def test_admins_override_a_template_and_the_next_acknowledgement_uses_it(login, database, clock):
    bob, alice = await login("bob"), await login("alice")
    listing = await bob.get("/api/v1/email-templates", expect=200)
    keys = {(t["name"], t["language"], t["category"]): t["source"] for t in listing}
    assert keys[("acknowledgement", "en", None)] == "file"
    assert keys[("acknowledgement", "zh", None)] == "file"
    assert keys[("acknowledgement", "en", "billing")] == "file"

    await bob.put("/api/v1/email-templates/acknowledgement/en", {"subject": "x", "text": "y"}, expect=403)
    broken = await alice.put(
        "/api/v1/email-templates/acknowledgement/en", {"subject": "{{ subject }}", "text": "{% if %}"}, expect=400
    )
    assert "compile" in broken["error"]["message"]
    await alice.put(
        "/api/v1/email-templates/acknowledgement/en",
        {"subject": "{{ subject }}", "text": "Got it: {{ case_number }}.\n"},
        expect=200,
    )
    listing = await bob.get("/api/v1/email-templates")
    assert {(t["name"], t["language"], t["category"]): t["source"] for t in listing}[
        ("acknowledgement", "en", None)
    ] == "database"

    result = await take(
        database,
        clock,
        mfs("""\
        From: carl@example.org
        To: help@example.test
        Subject: Printer jam
        Message-ID: <carl-1@example.org>

        The printer is jammed.
        """),
    )
    [ack] = await outbox(database, result.case_id)
    assert ack.body == f"Got it: CS-{result.case_id:06d}.\n"

    await alice.call("DELETE", "/api/v1/email-templates/acknowledgement/en", expect=204)
    await alice.call("DELETE", "/api/v1/email-templates/acknowledgement/en", expect=404)


def bounce_of(message_id: str, recipient: str, status: str = "5.1.1") -> bytes:
    return mfs(f"""\
        From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
        To: help@example.test
        Subject: Undelivered Mail Returned to Sender
        Message-ID: <dsn-{status}@mx.example.org>
        Auto-Submitted: auto-replied
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="b"

        --b
        Content-Type: text/plain

        Your message could not be delivered.
        --b
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.example.org

        Final-Recipient: rfc822; {recipient}
        Action: {"failed" if status.startswith("5") else "delayed"}
        Status: {status}
        Diagnostic-Code: smtp; 550 no such user

        --b
        Content-Type: text/rfc822-headers

        From: help@example.test
        To: {recipient}
        Subject: Re: Invoice
        Message-ID: {message_id}

        --b--
        """)


async def test_a_bounce_is_matched_to_our_message_and_the_address_suppressed(login, database, clock):
    first = await take(database, clock, FIRST)
    async with database.transaction() as session:
        [ack] = (await session.scalars(select(SentEmail).where(SentEmail.case_id == first.case_id))).all()

    delayed = await take(database, clock, bounce_of(ack.message_id, "ann@example.org", "4.4.1"))
    assert delayed.outcome is IntakeOutcome.BOUNCE
    bob = await login("bob")
    await bob.post(f"/api/v1/cases/{first.case_id}/email-replies", {"text": "Still there?"}, expect=201)

    failed = await take(database, clock, bounce_of(ack.message_id, "ann@example.org"))

    assert (failed.outcome, failed.case_id, failed.acknowledged) == (IntakeOutcome.BOUNCE, first.case_id, False)
    async with database.transaction() as session:
        bounces = list((await session.scalars(select(EmailBounce).order_by(col(EmailBounce.id)))).all())
        [suppressed] = (await session.scalars(select(EmailSuppression))).all()
        cases = (await session.scalars(select(Case))).all()
        notes = (
            await session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == first.case_id, CaseEvent.kind == EventKind.NOTE)
            )
        ).all()
    assert [(b.status, b.permanent, b.sent_id) for b in bounces] == [("4.4.1", False, ack.id), ("5.1.1", True, ack.id)]
    assert suppressed.address == "ann@example.org"
    assert len(cases) == 1  # a bounce is not a customer's new case
    assert any("5.1.1" in (note.body or "") for note in notes)

    error = await bob.post(f"/api/v1/cases/{first.case_id}/email-replies", {"text": "Hello?"}, expect=409)
    assert "suppressed" in error["error"]["message"]
    listed = await (await login("sam")).get("/api/v1/email/suppressions", expect=200)
    assert [s["address"] for s in listed] == ["ann@example.org"]

    # The transport refuses what was queued before the bounce, for good.
    [_ack, queued] = await outbox(database, first.case_id)
    transport = EmailTransport(
        SmtpSender("127.0.0.1", 9), clock, smtp_from=HELP, suppressed=suppression_check(database)
    )
    with pytest.raises(TransportError) as refused:
        await transport.send(queued)
    assert refused.value.permanent

    await (await login("alice")).call("DELETE", f"/api/v1/email/suppressions/{listed[0]['id']}", expect=204)
    await bob.post(f"/api/v1/cases/{first.case_id}/email-replies", {"text": "Hello?"}, expect=201)


async def test_admins_list_and_reprocess_unprocessable_mail(login, database, clock):
    garbage = await take(database, clock, b"\x00\x01 not a message at all")
    assert garbage.outcome is IntakeOutcome.UNPROCESSABLE
    # A message an older version could not read, kept raw: reprocessing now makes it a case.
    async with database.transaction() as session:
        session.add(
            EmailUnprocessable(
                message_id="<kept@example.org>",
                reason="old parser",
                size=len(FIRST),
                source="imap",
                raw=FIRST,
                received_at=clock.now(),
            )
        )
    alice = await login("alice")
    await (await login("bob")).get("/api/v1/email/unprocessable", expect=403)
    listed = await alice.get("/api/v1/email/unprocessable", expect=200)
    assert len(listed) == 2
    by_reason = {row["reason"]: row for row in listed}
    readable = by_reason["old parser"]
    [unreadable] = [row for row in listed if row is not readable]

    raw = await alice.client.get(f"/api/v1/email/unprocessable/{unreadable['id']}/raw")
    assert raw.status == 200
    assert await raw.read() == b"\x00\x01 not a message at all"
    assert raw.headers["Content-Disposition"].startswith("attachment")

    still = await alice.post(f"/api/v1/email/unprocessable/{unreadable['id']}/reprocess", expect=409)
    assert "still cannot be read" in still["error"]["message"]
    done = await alice.post(f"/api/v1/email/unprocessable/{readable['id']}/reprocess", expect=200)
    assert done["outcome"] == "new-case"
    assert done["case_id"]
    await alice.post(f"/api/v1/email/unprocessable/{readable['id']}/reprocess", expect=409)
    assert [row["id"] for row in await alice.get("/api/v1/email/unprocessable")] == [unreadable["id"]]
    assert len(await alice.get("/api/v1/email/unprocessable?pending=false")) == 2


async def test_analytics_per_day_and_queue(login, database, clock):
    day = clock.now().date()
    cases = []
    for n, minutes in enumerate((10, 30, 50)):
        result = await take(
            database,
            clock,
            mfs(f"""\
            From: c{n}@example.org
            To: help@example.test
            Subject: Question {n}
            Message-ID: <q{n}@example.org>

            Hello.
            """),
        )
        cases.append((result.case_id, minutes))
    await take(
        database,
        clock,
        mfs("""\
        From: c0@example.org
        To: help@example.test
        Subject: Re: Question 0
        Message-ID: <q0-again@example.org>
        In-Reply-To: <q0@example.org>

        Any news?
        """),
    )
    bob = await login("bob")
    start = clock.now()
    for case_id, minutes in cases[:2]:
        clock.set(start + timedelta(minutes=minutes))
        await bob.post(f"/api/v1/cases/{case_id}/email-replies", {"text": "On it."}, expect=201)
    await bob.post(f"/api/v1/cases/{cases[0][0]}/status", {"status": "resolved"}, expect=200)

    sam = await login("sam")
    await bob.get("/api/v1/email/analytics", expect=403)
    [row] = await sam.get(f"/api/v1/email/analytics?since={day}&until={day}", expect=200)

    assert (row["day"], row["queue"]) == (day.isoformat(), "(none)")
    assert (row["emails_in"], row["auto_replies"], row["cases_opened"], row["open_cases"]) == (4, 3, 3, 2)
    assert row["first_response"] == {"count": 2, "median_seconds": 1200.0, "p90_seconds": 1800.0}
    assert row["resolution"]["count"] == 1
    assert await sam.get(f"/api/v1/email/analytics?since={day + timedelta(days=1)}&until={day}", expect=400)
