"""Demo data: a small contact center with customers of every value tier, agents, queues and open cases."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from contact_center.actors import Actor
from contact_center.clock import SystemClock
from contact_center.db import Database
from contact_center.demo_field import load_field_demo
from contact_center.models import (
    ActorKind,
    CalendarRecord,
    CasePriority,
    Channel,
    CustomerTier,
    IdentityKind,
    Queue,
    Role,
    Skill,
    SlaPolicy,
    Team,
    TeamKind,
    User,
)
from contact_center.services.agents import AgentFields, do_create_agent, do_set_agent_skills
from contact_center.services.cases import do_assign_case, get_case
from contact_center.services.contacts import ContactIntake, receive_contact
from contact_center.services.customers import CustomerFields, do_add_identity, do_create_customer
from contact_center.services.users import do_create_user
from contact_center.settings import Settings
from knowledge_base.models import ArticleStatus
from knowledge_base.service import ArticleDraft, Author, do_create_article

__all__ = ["DEMO_ACCOUNTS", "load_demo"]

# (username, password, role, agent name or None). Printed by `contact-center demo`: for trying things out only.
DEMO_ACCOUNTS = (
    ("admin@demo.test", "admin-demo-2026", Role.ADMIN, None),
    ("supervisor@demo.test", "supervisor-demo-2026", Role.SUPERVISOR, None),
    ("ana@demo.test", "agent-demo-2026", Role.AGENT, "Ana Silva"),
    ("wei@demo.test", "agent-demo-2026", Role.AGENT, "Wei Zhang"),
    ("tech@demo.test", "tech-demo-2026", Role.TECHNICIAN, None),
)

_SKILLS = {
    "billing": "Invoices, payments and refunds",
    "technical": "Faults, outages and configuration",
    "sales": "Upgrades and new contracts",
    "retention": "Customers who want to leave",
    "mandarin": "Speaks Mandarin Chinese with customers",
}

_AGENTS = (
    ("Ana Silva", "ana@demo.test", "Core support", ["en", "pt"], {"billing": 8, "technical": 5, "retention": 7}),
    ("Wei Zhang", "wei@demo.test", "Core support", ["en", "zh"], {"technical": 9, "mandarin": 10, "billing": 4}),
    ("Sam Okafor", "sam@demo.test", "Core support", ["en"], {"sales": 8, "retention": 9, "billing": 6}),
    ("Lena Novak", "lena@partner.test", "Partner overflow", ["en", "de"], {"billing": 5, "technical": 4}),
)

_ARTICLES = Path(__file__).with_name("demo_articles.yaml")

# (name, language, value score, lifetime value, segment, phone, email)
_CUSTOMERS = (
    ("Grace Hopper", "en", 92, "48200.00", "enterprise", "+14155550101", "grace@example.com"),
    ("Li Na", "zh", 66, "9100.00", "small business", "+8613800138000", "li.na@example.cn"),
    ("Tom Baker", "en", 38, "1200.00", "consumer", "+447700900123", "tom.baker@example.co.uk"),
    ("Rosa Diaz", "en", 12, "150.00", "consumer", "+14155550177", "rosa@example.org"),
)
# The customer the demo suggests signing in to the portal as: she has open cases.
PORTAL_EMAIL = _CUSTOMERS[0][6]

_OPEN_CONTACTS = (
    (Channel.VOICE, "CA0000demo0001", "+14155550101", "Outage at head office", "technical", CasePriority.URGENT),
    (
        Channel.EMAIL,
        "<demo-0002@example.cn>",
        "li.na@example.cn",
        "发票金额不对 (invoice amount wrong)",
        "billing",
        CasePriority.NORMAL,
    ),
    (Channel.SMS, "SM0000demo0003", "+447700900123", "Can I upgrade my plan?", "sales", CasePriority.NORMAL),
    (Channel.CHAT, "chat-demo-0004", "chat:rosa-4711", "I want to cancel my contract", "retention", CasePriority.HIGH),
    (Channel.WEB, "web-demo-0005", "grace@example.com", "Router keeps rebooting", "technical", CasePriority.HIGH),
)


async def load_demo(settings: Settings) -> list[tuple[str, str, str]]:
    """Load the demo data once (a second run changes nothing); return the accounts to print."""
    database = Database(settings.database_url)
    clock = SystemClock()
    accounts = [(u, p, r.value) for u, p, r, _ in DEMO_ACCOUNTS]
    try:
        async with database.transaction() as session:
            if (await session.scalars(select(User).where(User.username == DEMO_ACCOUNTS[0][0]))).first():
                return accounts
            now = clock.now()
            session.add_all(Skill(name=name, description=text) for name, text in _SKILLS.items())
            session.add_all(
                [
                    Team(name="Core support", kind=TeamKind.IN_HOUSE),
                    Team(name="Partner overflow", kind=TeamKind.OUTSOURCED, partner="Acme Outsourcing"),
                ]
            )
            calendar = CalendarRecord(
                name="London office",
                time_zone="Europe/London",
                hours={d: ["08:00-12:30", "13:30-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
                holidays=["2026-12-25", "2026-12-28", "2027-01-01"],
            )
            session.add(calendar)
            await session.flush()
            session.add_all(
                [
                    SlaPolicy(
                        name="Urgent", priority=CasePriority.URGENT, first_response_minutes=15, resolution_minutes=240
                    ),
                    SlaPolicy(
                        name="High-value customers",
                        tier=CustomerTier.HIGH,
                        first_response_minutes=30,
                        resolution_minutes=480,
                        calendar_id=calendar.id,
                    ),
                    SlaPolicy(
                        name="Standard", first_response_minutes=240, resolution_minutes=2880, calendar_id=calendar.id
                    ),
                ]
            )
            for name, skills in (
                ("billing", {"billing": 3}),
                ("technical", {"technical": 3}),
                ("sales", {"sales": 3}),
                ("retention", {"retention": 5}),
                ("mandarin", {"mandarin": 5}),
            ):
                session.add(
                    Queue(
                        name=name,
                        description=f"{name.title()} questions",
                        channels=[c.value for c in Channel],
                        required_skills=skills,
                        calendar_id=calendar.id,
                    )
                )
            teams = {t.name: t.id for t in (await session.scalars(select(Team))).all()}
            agent_ids: dict[str, int] = {}
            for name, email, team, languages, skills in _AGENTS:
                agent = await do_create_agent(
                    session,
                    AgentFields(
                        name=name, email=email, team_id=teams[team], languages=languages, time_zone="Europe/London"
                    ),
                    now,
                )
                await do_set_agent_skills(session, agent, skills)
                agent_ids[name] = agent.id or 0
            for username, password, role, agent_name in DEMO_ACCOUNTS:
                await do_create_user(
                    session,
                    username=username,
                    password=password,
                    role=role,
                    now=now,
                    display_name=agent_name or username.split("@")[0].title(),
                    agent_id=agent_ids.get(agent_name or ""),
                )
            for name, language, score, ltv, segment, phone, email in _CUSTOMERS:
                customer = await do_create_customer(
                    session,
                    CustomerFields(
                        name=name, language=language, value_score=score, lifetime_value=Decimal(ltv), segment=segment
                    ),
                    now - timedelta(days=400),
                )
                await do_add_identity(session, customer, IdentityKind.PHONE, phone, now)
                await do_add_identity(session, customer, IdentityKind.EMAIL, email, now)
            await _publish_articles(session, now)
        async with database.transaction() as session:
            queues = {q.name: q.id for q in (await session.scalars(select(Queue))).all()}
        results = []
        for channel, external_id, address, subject, queue, priority in _OPEN_CONTACTS:
            results.append(
                await receive_contact(
                    database,
                    ContactIntake(
                        channel=channel,
                        external_id=external_id,
                        address=address,
                        subject=subject,
                        body=subject,
                        queue_id=queues[queue],
                        priority=priority,
                        name="Rosa Diaz" if channel is Channel.CHAT else None,
                    ),
                    clock.now(),
                )
            )
        async with database.transaction() as session:
            case = await get_case(session, results[0].case.id or 0)
            await do_assign_case(
                session, case, agent_ids["Wei Zhang"], Actor(ActorKind.SYSTEM, None, "demo"), clock.now()
            )
        await load_field_demo(database, clock, settings)
        return accounts
    finally:
        await database.dispose()


async def _publish_articles(session: AsyncSession, now: datetime) -> None:
    """Publish the demo's knowledge-base articles, written by the demo supervisor."""
    entries: list[dict[str, Any]] = yaml.safe_load(_ARTICLES.read_text(encoding="utf-8"))
    author = Author("Supervisor")
    for entry in entries:
        draft = ArticleDraft(**entry, status=ArticleStatus.PUBLISHED)
        await do_create_article(session, draft, author, now)
