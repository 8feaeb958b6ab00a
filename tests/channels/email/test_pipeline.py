"""The whole intake on real mail and on rules: the corpus end to end, classification into routing, mailboxes' queues."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from contact_center.channels.email.articles import article_suggester
from contact_center.channels.email.config import email_intake
from contact_center.channels.email.intake import EmailIntake, IntakeOutcome, Suggestion, take_in_message
from contact_center.channels.email.worker import build_imap_readers
from contact_center.models import Case, OutboxMessage, Queue
from contact_center.models.email import EmailAutoReply
from contact_center.settings import ConfigError, Settings
from contact_center.web.app import create_app
from email_response.classification import load_rules
from email_response.imap import handling_lanes
from email_response.parsing import ParsedMessage, parse_message
from knowledge_base.models import ArticleStatus, Visibility
from knowledge_base.service import ArticleDraft, Author, do_create_article

from .conftest import CORPUS, HELP, batch_of, mfs, take_in_batch

RULES = load_rules(
    {
        "billing": {
            "keywords": ["invoice", "refund", "发票"],
            "skills": {"billing": 2},
            "priority": "high",
            "queue": "billing",
        },
        "outage": {"keywords": ["down", "outage"], "skills": {"network": 1}, "priority": "urgent"},
    }
)


def machine_made(msg: ParsedMessage) -> bool:
    auto = msg.auto
    submitted = (auto.auto_submitted or "no").split(";")[0].strip().lower() != "no"
    bulk = (auto.precedence or "").strip().lower() in ("bulk", "list", "junk")
    return msg.is_delivery_report or submitted or bulk or bool(auto.list_headers)


@pytest.mark.parametrize("taken", ["one by one", "in batches"])
async def test_every_corpus_message_runs_through_the_whole_intake(database, clock, router, taken):
    files = sorted(CORPUS.rglob("*.eml")) if CORPUS.is_dir() else []
    if not files:
        pytest.skip(f"the email fixture corpus is not at {CORPUS}")
    raws = [path.read_bytes() for path in files]
    if taken == "one by one":
        results = [
            await take_in_message(
                database, raw, clock.now(), router=router, auto_reply=True, smtp_from=HELP, intake=EmailIntake(RULES)
            )
            for raw in raws
        ]
    else:
        # As the IMAP worker takes them: 25 at a time, each batch in one transaction.
        batch = batch_of(database, router, clock, EmailIntake(RULES))
        found = [
            result
            for start in range(0, len(raws), 25)
            for result in await take_in_batch(batch, raws[start : start + 25])
        ]
        assert None not in found, "a corpus message failed in its batch"
        results = [result for result in found if result is not None]
    outcomes: dict[IntakeOutcome, int] = {}
    for path, raw, result in zip(files, raws, results, strict=True):
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        parsed = parse_message(raw)
        if isinstance(parsed, ParsedMessage) and machine_made(parsed):
            assert not result.acknowledged, f"{path.name} is machine-made and was answered"
    assert sum(outcomes.values()) == len(files)
    assert outcomes.get(IntakeOutcome.NEW_CASE, 0) > len(files) // 2
    async with database.transaction() as session:
        replies = list((await session.scalars(select(OutboxMessage))).all())
        answered = {row.address for row in (await session.scalars(select(EmailAutoReply))).all()}
    # Every automatic mail we queued says so (RFC 3834 §5), and none went to a machine.
    assert replies
    assert all(reply.headers["Auto-Submitted"] == "auto-replied" for reply in replies)
    assert not any(address.split("@")[0].lower() in ("mailer-daemon", "postmaster") for address in answered)


async def test_classification_feeds_the_case_and_the_route_request(database, clock, router):
    async with database.transaction() as session:
        session.add(Queue(name="billing", required_skills={}))
    raw = mfs("""\
        From: Li Wei <li@example.cn>
        To: help@example.test
        Subject: 发票金额错误
        Message-ID: <li-1@example.cn>

        您好 我上个月的发票金额不对 请退款。
        """)
    result = await take_in_message(
        database, raw, clock.now(), router=router, auto_reply=True, smtp_from=HELP, intake=EmailIntake(RULES)
    )

    async with database.transaction() as session:
        case = await session.get(Case, result.case_id)
        [ack] = (await session.scalars(select(OutboxMessage))).all()
        billing = (await session.scalars(select(Queue).where(Queue.name == "billing"))).one()
    assert (case.category, case.required_skills, case.language, case.priority.value) == (
        "billing",
        {"billing": 2},
        "zh",
        "high",
    )
    assert case.queue_id == billing.id
    [request] = router.submitted
    assert (request.queue, request.skills, request.language, request.attributes["category"]) == (
        "billing",
        {"billing": 2},
        "zh",
        "billing",
    )
    # The acknowledgement is the Chinese billing template.
    assert "账单团队" in ack.body


async def test_a_mailbox_queue_applies_when_no_rule_names_one_and_suggestions_are_listed(database, clock, router):
    async def suggest(_session: AsyncSession, subject: str, text: str, language: str) -> list[Suggestion]:
        assert language == "en"
        return [Suggestion("Resetting your router", "https://help.example.test/kb/12")]

    raw = mfs("""\
        From: ann@example.org
        To: help@example.test
        Subject: Network down
        Message-ID: <ann-down@example.org>

        The network is down since this morning, please help.
        """)
    result = await take_in_message(
        database,
        raw,
        clock.now(),
        router=router,
        auto_reply=True,
        smtp_from=HELP,
        intake=EmailIntake(RULES, queue="support", suggest=suggest),
    )
    [request] = router.submitted
    assert (request.queue, request.skills, request.priority.value) == ("support", {"network": 1}, "urgent")
    async with database.transaction() as session:
        [ack] = (await session.scalars(select(OutboxMessage))).all()
    assert "Resetting your router: https://help.example.test/kb/12" in ack.body
    assert result.acknowledged


async def test_a_failing_suggest_still_acknowledges(database, clock):
    async def suggest(_session: AsyncSession, subject: str, text: str, language: str) -> list[Suggestion]:
        raise RuntimeError("knowledge base down")

    raw = mfs("""\
        From: bo@example.org
        To: help@example.test
        Subject: Question
        Message-ID: <bo-1@example.org>

        Hello.
        """)
    result = await take_in_message(
        database, raw, clock.now(), router=None, auto_reply=True, smtp_from=HELP, intake=EmailIntake(suggest=suggest)
    )
    assert result.acknowledged


async def test_mailboxes_and_rules_come_from_settings(tmp_path, database, clock):
    rules = tmp_path / "rules.yaml"
    rules.write_text("billing:\n  keywords: [invoice]\n  queue: billing\n")
    settings = Settings.from_env(
        {
            "DATA_DIR": str(tmp_path),
            "SECRET_KEY": "x",
            "IMAP_HOST": "127.0.0.1",
            "IMAP_USERNAME": "help@example.test",
            "IMAP_MAILBOXES": "INBOX, Billing=billing",
            "EMAIL_RULES": str(rules),
            "EMAIL_MAX_MESSAGE_MB": "10",
        }
    )
    assert settings.imap_mailboxes == (("INBOX", None), ("Billing", "billing"))
    readers = build_imap_readers(database, settings, None, clock)
    assert [reader.account.mailbox for reader in readers] == ["INBOX", "Billing"]
    intake = email_intake(settings, queue="billing")
    assert [rule.category for rule in intake.rules] == ["billing"]
    assert intake.limits.max_message_bytes == 10_000_000

    for bad in ("INBOX,INBOX", "Billing=", ","):
        with pytest.raises(ConfigError, match="IMAP_MAILBOXES"):
            Settings.from_env({"DATA_DIR": str(tmp_path), "SECRET_KEY": "x", "IMAP_MAILBOXES": bad})
    rules.write_text("billing:\n  keywords: [invoice]\n  colour: red\n")
    with pytest.raises(ConfigError, match=r"EMAIL_RULES.*unknown keys"):
        email_intake(settings)


def letter(uid: int, sender: int, refers: int | None) -> bytes:
    header = f"In-Reply-To: <m{refers}@x>\r\n" if refers is not None else ""
    return f"From: s{sender}@example.org\r\nMessage-ID: <m{uid}@x>\r\n{header}\r\nhi\r\n".encode()


@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.one_of(st.none(), st.integers(0, 30))),
        min_size=1,
        max_size=30,
    )
)
def test_lanes_keep_every_message_once_and_replies_after_their_questions(spec):
    batch = {uid: letter(uid, sender, refers) for uid, (sender, refers) in enumerate(spec)}
    lanes = handling_lanes(batch)

    assert sorted(uid for lane in lanes for uid in lane) == list(batch)
    lane_of = {uid: n for n, lane in enumerate(lanes) for uid in lane}
    for lane in lanes:
        assert lane == sorted(lane)
    for uid, (sender, refers) in enumerate(spec):
        if refers is not None and refers < uid:
            assert lane_of[refers] == lane_of[uid]
        earlier = [other for other in range(uid) if spec[other][0] == sender]
        if earlier:
            assert lane_of[earlier[-1]] == lane_of[uid]


async def test_a_message_without_a_sender_is_kept_not_crashed_on(database, clock):
    raw = mfs("""\
        To: help@example.test
        Subject: Who am I
        Message-ID: <anonymous@example.org>

        No From header at all.
        """)
    result = await take_in_message(database, raw, clock.now(), router=None, auto_reply=True, smtp_from=HELP)
    assert result.outcome is IntakeOutcome.UNPROCESSABLE
    assert result.reason == "no sender address"
    again = await take_in_message(database, raw, clock.now(), router=None, auto_reply=True, smtp_from=HELP)
    assert again.outcome is IntakeOutcome.DUPLICATE


async def test_a_bad_rules_file_stops_the_app_at_start(tmp_path, settings, database, clock, aiohttp_client):
    rules = tmp_path / "rules.yaml"
    rules.write_text("billing:\n  patterns: ['(unclosed']\n")
    app = create_app(replace(settings, email_rules=rules), database=database, clock=clock)
    with pytest.raises(ConfigError, match="not a valid regex"):
        await aiohttp_client(app)


async def test_acknowledgements_offer_the_knowledge_bases_public_articles(tmp_path, database, clock):
    async with database.transaction() as session:
        for title, body, visibility in (
            ("Resetting your router", "Hold the reset button of the router for ten seconds.", Visibility.PUBLIC),
            ("Router fault codes", "Internal: router fault codes for agents.", Visibility.INTERNAL),
        ):
            draft = ArticleDraft(title=title, body=body, visibility=visibility, status=ArticleStatus.PUBLISHED)
            await do_create_article(session, draft, Author("Sam"), clock.now())
    settings = Settings(data_dir=tmp_path, database_url=database.url, public_base_url="https://help.example.test/")
    raw = mfs("""\
        From: cy@example.org
        To: help@example.test
        Subject: My router is down
        Message-ID: <cy-router@example.org>

        The router keeps failing, can I reset it?
        """)
    intake = EmailIntake(suggest=article_suggester(settings))
    result = await take_in_message(
        database, raw, clock.now(), router=None, auto_reply=True, smtp_from=HELP, intake=intake
    )
    assert result.acknowledged
    async with database.transaction() as session:
        [ack] = (await session.scalars(select(OutboxMessage))).all()
    assert "Resetting your router: https://help.example.test/kb/resetting-your-router" in ack.body
    assert "fault codes" not in ack.body  # internal articles never reach customers
