"""Staff pages for the knowledge base: agents read every article, supervisors write, publish and archive them."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlmodel import col, select

from contact_center.models import Role
from contact_center.services.users import SignedIn
from contact_center.web.auth import AGENTS, SUPERVISORS, authorize_page, read_form
from contact_center.web.keys import CLOCK, DATABASE
from knowledge_base.errors import ArticleNotFound, KnowledgeBaseError
from knowledge_base.models import LANGUAGES, Article, ArticleStatus, Visibility
from knowledge_base.rendering import render_markdown
from knowledge_base.service import (
    ArticleChanges,
    ArticleDraft,
    Author,
    do_change_article_status,
    do_create_article,
    do_update_article,
    get_article,
    versions,
)

__all__ = ["routes"]

routes = web.RouteTableDef()


async def _staff(request: web.Request, roles: frozenset[Role]) -> SignedIn:
    return await authorize_page(request, roles)


def _context(signed_in: SignedIn, **extra: Any) -> dict[str, Any]:
    return {
        "user": signed_in.user,
        "csrf": signed_in.session.csrf_token,
        "can_edit": signed_in.user.role in SUPERVISORS,
        "languages": LANGUAGES,
        "statuses": [status.value for status in ArticleStatus],
        "visibilities": [visibility.value for visibility in Visibility],
        **extra,
    }


def _fields(form: dict[str, str]) -> dict[str, Any]:
    visibility = form.get("visibility", "public")
    return {
        "title": form.get("title", ""),
        "body": form.get("body", ""),
        "language": form.get("language", "en"),
        "category": form.get("category", ""),
        "tags": [tag for tag in form.get("tags", "").split(",") if tag.strip()],
        "visibility": Visibility(visibility) if visibility in {v.value for v in Visibility} else Visibility.PUBLIC,
    }


def _author(signed_in: SignedIn) -> Author:
    return Author(signed_in.user.display_name, signed_in.user.id)


@routes.get("/staff/kb")
async def article_list(request: web.Request) -> web.Response:
    """List articles of every status."""
    signed_in = await _staff(request, AGENTS)
    status = request.query.get("status") or None
    statement = select(Article).order_by(col(Article.updated_at).desc(), col(Article.id).desc())
    if status in {s.value for s in ArticleStatus}:
        statement = statement.where(Article.status == ArticleStatus(status))
    async with request.app[DATABASE].transaction() as session:
        articles = list((await session.scalars(statement.limit(500))).all())
    context = _context(signed_in, articles=articles, status=status)
    return aiohttp_jinja2.render_template("kb_manage.html", request, context)


@routes.get("/staff/kb/new")
async def new_article_form(request: web.Request) -> web.Response:
    """Show an empty article form."""
    signed_in = await _staff(request, SUPERVISORS)
    context = _context(signed_in, article=None, form=None, preview=None, history=[], error=None)
    return aiohttp_jinja2.render_template("kb_edit.html", request, context)


@routes.post("/staff/kb/new")
async def create_article(request: web.Request) -> web.Response:
    """Save a new draft."""
    signed_in = await _staff(request, SUPERVISORS)
    form = await read_form(request, signed_in)
    try:
        async with request.app[DATABASE].transaction() as session:
            article = await do_create_article(
                session, ArticleDraft(**_fields(form)), _author(signed_in), request.app[CLOCK].now()
            )
    except KnowledgeBaseError as exc:
        # Re-show what was sent, every field present: a hand-made post may leave some out.
        shown = {"title": form.get("title", ""), "body": form.get("body", "")}
        context = _context(signed_in, article=None, form=shown, preview=None, history=[], error=exc.message)
        return aiohttp_jinja2.render_template("kb_edit.html", request, context, status=400)
    raise web.HTTPSeeOther(f"/staff/kb/{article.id}")


@routes.get("/staff/kb/{article_id:\\d{1,12}}")
async def edit_article_form(request: web.Request) -> web.Response:
    """Show an article with its rendered preview and version history (editable for supervisors)."""
    signed_in = await _staff(request, AGENTS)
    async with request.app[DATABASE].transaction() as session:
        try:
            article = await get_article(session, int(request.match_info["article_id"]))
        except ArticleNotFound:
            raise web.HTTPNotFound(reason="no such article") from None
        history = await versions(session, article)
    context = _context(
        signed_in, article=article, form=None, preview=render_markdown(article.body), history=history, error=None
    )
    return aiohttp_jinja2.render_template("kb_edit.html", request, context)


@routes.post("/staff/kb/{article_id:\\d{1,12}}")
async def save_article(request: web.Request) -> web.Response:
    """Save an edit as a new version."""
    signed_in = await _staff(request, SUPERVISORS)
    form = await read_form(request, signed_in)
    async with request.app[DATABASE].transaction() as session:
        try:
            article = await get_article(session, int(request.match_info["article_id"]), for_update=True)
            await do_update_article(
                session,
                article,
                ArticleChanges(**_fields(form)),
                _author(signed_in),
                request.app[CLOCK].now(),
                (form.get("note") or "").strip()[:500] or None,
            )
        except ArticleNotFound:
            raise web.HTTPNotFound(reason="no such article") from None
        except KnowledgeBaseError as exc:
            raise web.HTTPBadRequest(reason=exc.message) from None
    raise web.HTTPSeeOther(f"/staff/kb/{article.id}")


@routes.post("/staff/kb/{article_id:\\d{1,12}}/status")
async def change_status(request: web.Request) -> web.Response:
    """Publish, archive or return an article to draft."""
    signed_in = await _staff(request, SUPERVISORS)
    form = await read_form(request, signed_in)
    if form.get("status") not in {s.value for s in ArticleStatus}:
        raise web.HTTPBadRequest(reason="choose a status")
    async with request.app[DATABASE].transaction() as session:
        try:
            article = await get_article(session, int(request.match_info["article_id"]), for_update=True)
        except ArticleNotFound:
            raise web.HTTPNotFound(reason="no such article") from None
        await do_change_article_status(
            session, article, ArticleStatus(form["status"]), _author(signed_in), request.app[CLOCK].now()
        )
    raise web.HTTPSeeOther(f"/staff/kb/{article.id}")
