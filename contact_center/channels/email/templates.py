"""Reply templates as the app offers them: the shipped files with admins' overrides from `email_templates` on top."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.errors import InvalidInput, NotFound
from contact_center.models.email import EmailTemplateRecord
from email_response.catalogue import TemplateCatalogue, TemplateKey
from email_response.templates import ReplyTemplate, TemplateError, check_template

__all__ = ["default_catalogue", "do_delete_template", "do_save_template", "load_catalogue"]


@cache
def default_catalogue() -> TemplateCatalogue:
    """Return the shipped templates (loaded once per process)."""
    return TemplateCatalogue.from_files()


async def load_catalogue(session: AsyncSession, base: TemplateCatalogue | None = None) -> TemplateCatalogue:
    """Return the shipped templates with every override stored in the database applied."""
    rows = await session.scalars(select(EmailTemplateRecord).order_by(col(EmailTemplateRecord.id)))
    overrides = [
        (TemplateKey(row.name, row.language, row.category), row.subject, row.text, row.html) for row in rows.all()
    ]
    return (base or default_catalogue()).with_overrides(overrides)


async def do_save_template(
    session: AsyncSession,
    key: TemplateKey,
    *,
    subject: str,
    text: str,
    html: str | None,
    user_id: int | None,
    now: datetime,
) -> EmailTemplateRecord:
    """Store an admin's version of a template after checking that it compiles; raise InvalidInput if not."""
    try:
        check_template(ReplyTemplate(name=f"{key.name}.{key.language}", subject=subject, text=text, html=html))
    except TemplateError as exc:
        raise InvalidInput(f"the template does not compile: {exc}", field="template") from None
    row = await _row(session, key)
    if row is None:
        row = EmailTemplateRecord(
            name=key.name, language=key.language, category=key.category, subject="", text="", updated_at=now
        )
        session.add(row)
    row.subject, row.text, row.html = subject, text, html
    row.updated_by_id, row.updated_at = user_id, now
    await session.flush()
    return row


async def do_delete_template(session: AsyncSession, key: TemplateKey) -> None:
    """Remove an override, so the shipped file (if any) answers again."""
    row = await _row(session, key)
    if row is None:
        raise NotFound(f"no stored template {key.name} ({key.language}, {key.category or 'any category'})")
    await session.delete(row)


async def _row(session: AsyncSession, key: TemplateKey) -> EmailTemplateRecord | None:
    found = await session.scalars(
        select(EmailTemplateRecord).where(
            EmailTemplateRecord.name == key.name,
            EmailTemplateRecord.language == key.language,
            EmailTemplateRecord.category == key.category,
        )
    )
    return found.first()
