"""The portal's pages and the public knowledge-base pages: server-rendered, English and Chinese, phone-sized."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from sqlmodel import col, select

from contact_center.dispatch import RouteRequest
from contact_center.errors import InvalidInput, NotFound
from contact_center.models import (
    CaseStatus,
    Channel,
    EventKind,
    Identity,
    IdentityKind,
    PortalAttachment,
    SurveyResponse,
)
from contact_center.portal.i18n import LANGUAGES, MESSAGES, choose_language
from contact_center.portal.service import (
    Upload,
    attachments_of,
    customer_cases,
    do_close_case,
    do_open_draft,
    do_record_article_opened,
    do_reopen_case,
    do_reply,
    do_submit_survey,
    draft_for,
    owned_case,
)
from contact_center.portal.signin import (
    LinkProblem,
    PortalSignedIn,
    do_end_portal_session,
    do_redeem_code,
    do_redeem_link,
    do_request_code,
    do_request_link,
    do_start_portal_session,
    load_portal_session,
)
from contact_center.services.cases import timeline
from contact_center.services.contacts import ContactIntake
from contact_center.services.invoices import invoices_of_cases
from contact_center.throttle import Rule
from contact_center.web.api.invoices import find_invoice, invoice_file
from contact_center.web.auth import set_session_cookie
from contact_center.web.keys import CLOCK, DATABASE, INTAKE, ROUTER, SETTINGS
from contact_center.web.limits import check_limit, client_address, count_attempt
from field_service.visits import visits_for_cases
from knowledge_base.errors import ArticleNotFound
from knowledge_base.index import Scope
from knowledge_base.models import Article, ArticleStatus, Visibility
from knowledge_base.rendering import render_markdown
from knowledge_base.search import search_articles
from knowledge_base.service import do_record_feedback, do_record_view, get_public_article

__all__ = ["attachment_response", "routes"]

routes = web.RouteTableDef()
PORTAL_COOKIE = "cc_portal"
LANGUAGE_COOKIE = "cc_lang"
_FORM_CSRF = "cc_portal_form"
_CUSTOMER = web.RequestKey("portal_customer", PortalSignedIn)
_CATEGORIES = ("account", "billing", "orders", "devices", "network", "email", "other")
_PUBLIC_EVENTS = (EventKind.MESSAGE_IN, EventKind.MESSAGE_OUT, EventKind.NOTE)


def _language(request: web.Request) -> str:
    return choose_language(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("Accept-Language"))


async def _signed_in(request: web.Request) -> PortalSignedIn | None:
    if _CUSTOMER in request:
        return request[_CUSTOMER]
    token = request.cookies.get(PORTAL_COOKIE)
    if not token:
        return None
    async with request.app[DATABASE].transaction() as session:
        found = await load_portal_session(session, token, request.app[CLOCK].now())
    if found is not None:
        request[_CUSTOMER] = found
    return found


async def _customer(request: web.Request) -> PortalSignedIn:
    found = await _signed_in(request)
    if found is None:
        raise web.HTTPSeeOther("/portal")
    return found


async def _form(request: web.Request, signed_in: PortalSignedIn) -> dict[str, str]:
    """Read a posted form after checking the portal session's CSRF token."""
    fields, _ = await _form_with_file(request, signed_in)
    return fields


async def _form_with_file(request: web.Request, signed_in: PortalSignedIn) -> tuple[dict[str, str], Upload | None]:
    """Read a posted (possibly multipart) form and its one optional file, after checking the CSRF token."""
    form = await request.post()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if not hmac.compare_digest(fields.get("csrf_token", ""), signed_in.session.csrf_token):
        raise web.HTTPForbidden(reason="the form expired; reload the page and try again")
    upload = None
    sent = form.get("file")
    if isinstance(sent, web.FileField) and sent.filename:
        upload = Upload(filename=sent.filename, content_type=sent.content_type, content=sent.file.read())
    return fields, upload


def _render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    language = _language(request)
    messages = MESSAGES[language]
    full = {
        "lang": language,
        "languages": LANGUAGES,
        "t": lambda key: messages.get(key, key),
        "here": request.path_qs,
        "customer": None,
        "csrf": None,
        **context,
    }
    return aiohttp_jinja2.render_template(template, request, full, status=status)


def _page_context(signed_in: PortalSignedIn | None) -> dict[str, Any]:
    if signed_in is None:
        return {}
    return {"customer": signed_in.customer, "csrf": signed_in.session.csrf_token}


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/portal"


@routes.get("/portal/lang/{code}")
async def switch_language(request: web.Request) -> web.Response:
    """Remember the chosen interface language and go back."""
    code = request.match_info["code"]
    if code not in LANGUAGES:
        raise web.HTTPNotFound()
    redirect = web.HTTPSeeOther(_safe_next(request.query.get("next")))
    redirect.set_cookie(LANGUAGE_COOKIE, code, max_age=365 * 86400, samesite="Lax", path="/")
    raise redirect


# Public knowledge base ------------------------------------------------------------------------------------------


@routes.get("/kb")
async def kb_home(request: web.Request) -> web.Response:
    """Browse or search the public articles."""
    query = request.query.get("q", "").strip()[:500]
    language = request.query.get("language") or _language(request)
    if language not in LANGUAGES:
        language = _language(request)
    found = None
    async with request.app[DATABASE].transaction() as session:
        if query:
            found = await search_articles(session, query, scope=Scope(language=language), limit=20)
            articles = []
        else:
            rows = await session.scalars(
                select(Article)
                .where(
                    Article.status == ArticleStatus.PUBLISHED,
                    Article.visibility == Visibility.PUBLIC,
                    Article.language == language,
                )
                .order_by(col(Article.category), col(Article.title))
            )
            articles = list(rows.all())
    context = {"query": query, "found": found, "articles": articles, "kb_language": language}
    return _render(request, "kb_list.html", {**context, **_page_context(await _signed_in(request))})


@routes.get("/kb/{slug}")
async def kb_article(request: web.Request) -> web.Response:
    """Show a public article; opened from a new-case form, it counts towards deflection."""
    signed_in = await _signed_in(request)
    async with request.app[DATABASE].transaction() as session:
        try:
            article = await get_public_article(session, request.match_info["slug"])
        except ArticleNotFound:
            raise web.HTTPNotFound(reason="no such article") from None
        await do_record_view(session, article.id or 0)
        draft = request.query.get("draft")
        if draft and signed_in is not None:
            await do_record_article_opened(
                session, signed_in.customer, draft, article.id or 0, request.app[CLOCK].now()
            )
    context = {
        "article": article,
        "html": render_markdown(article.body),
        "thanks": request.query.get("thanks") == "1",
        "back": _safe_next(request.query.get("back") or "/kb"),
    }
    return _render(request, "kb_article.html", {**context, **_page_context(signed_in)})


@routes.post("/kb/{slug}/feedback")
async def kb_feedback(request: web.Request) -> web.Response:
    """Count a "was this helpful?" answer."""
    form = await request.post()
    helpful = form.get("helpful")
    if helpful not in ("yes", "no"):
        raise web.HTTPBadRequest(reason="answer yes or no")
    async with request.app[DATABASE].transaction() as session:
        try:
            article = await get_public_article(session, request.match_info["slug"])
        except ArticleNotFound:
            raise web.HTTPNotFound(reason="no such article") from None
        await do_record_feedback(session, article, helpful=helpful == "yes", now=request.app[CLOCK].now())
    raise web.HTTPSeeOther(f"/kb/{article.slug}?thanks=1")


# Signing in -------------------------------------------------------------------------------------------------------


@routes.get("/portal")
async def portal_home(request: web.Request) -> web.Response:
    """Show the customer's cases, or the sign-in page."""
    signed_in = await _signed_in(request)
    if signed_in is None:
        token = secrets.token_urlsafe(24)
        response = _render(request, "portal_signin.html", {"form_csrf": token, "notice": None})
        response.set_cookie(_FORM_CSRF, token, httponly=True, samesite="Strict", path="/portal")
        return response
    async with request.app[DATABASE].transaction() as session:
        cases = await customer_cases(session, signed_in.customer)
    return _render(request, "portal_cases.html", {"cases": cases, **_page_context(signed_in)})


async def _signin_form(request: web.Request) -> dict[str, str]:
    form = await request.post()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    expected = request.cookies.get(_FORM_CSRF, "")
    if not expected or not hmac.compare_digest(fields.get("csrf_token", ""), expected):
        raise web.HTTPForbidden(reason="the sign-in form expired; reload the page and try again")
    return fields


def _base_url(request: web.Request) -> str:
    # Links must point at the configured address: one built from a Host header could send a token to another site.
    configured = request.app[SETTINGS].public_base_url
    return configured or f"{request.scheme}://{request.host}"


# Per address (or case) limits live in `signin`; these stop one client from asking for, or guessing, many.
PORTAL_REQUESTS_PER_CLIENT = Rule("portal-request-client", limit=10, window=timedelta(minutes=15))
PORTAL_CODES_PER_CLIENT = Rule("portal-code-client", limit=10, window=timedelta(minutes=15))
_TOO_MANY_REQUESTS = "too many sign-in links or codes asked for; wait a few minutes and try again"
_TOO_MANY_CODES = "too many wrong codes; wait a few minutes and try again"


@routes.post("/portal/signin")
async def request_link(request: web.Request) -> web.Response:
    """Email a sign-in link; the answer is the same whether or not the address is known."""
    fields = await _signin_form(request)
    await count_attempt(request, PORTAL_REQUESTS_PER_CLIENT, client_address(request), _TOO_MANY_REQUESTS)
    address = fields.get("email", "").strip()
    if "@" not in address or len(address) > 320:
        raise InvalidInput("enter an email address", field="email")
    async with request.app[DATABASE].transaction() as session:
        await do_request_link(
            session, address, _base_url(request), request.app[CLOCK].now(), language=_language(request)
        )
    return _render(request, "portal_message.html", {"message_key": "link_sent", "status": 200})


@routes.post("/portal/code")
async def request_code(request: web.Request) -> web.Response:
    """Text a code to the phone on a case; the answer is the same whether or not it exists."""
    fields = await _signin_form(request)
    await count_attempt(request, PORTAL_REQUESTS_PER_CLIENT, client_address(request), _TOO_MANY_REQUESTS)
    case_ref = fields.get("case", "").strip()[:20]
    async with request.app[DATABASE].transaction() as session:
        await do_request_code(session, case_ref, request.app[CLOCK].now())
    token = request.cookies.get(_FORM_CSRF, "")
    return _render(request, "portal_code.html", {"form_csrf": token, "case": case_ref})


async def _start(request: web.Request, customer_id: int) -> web.Response:
    settings = request.app[SETTINGS]
    lifetime = timedelta(hours=settings.session_hours)
    redirect = web.HTTPSeeOther("/portal")
    async with request.app[DATABASE].transaction() as session:
        old = request.cookies.get(PORTAL_COOKIE)
        if old:
            await do_end_portal_session(session, old)
        token, _ = await do_start_portal_session(session, customer_id, request.app[CLOCK].now(), lifetime)
    set_session_cookie(redirect, PORTAL_COOKIE, token, lifetime, secure=settings.cookie_secure)
    raise redirect


_PROBLEM_PAGES = {LinkProblem.EXPIRED: ("link_expired", 410), LinkProblem.USED: ("link_used", 410)}


@routes.get("/portal/signin/{token}")
async def redeem_link(request: web.Request) -> web.Response:
    """Sign in with an emailed link, or say plainly why it no longer works."""
    token = request.match_info["token"][:100]
    async with request.app[DATABASE].transaction() as session:
        customer_id, problem = await do_redeem_link(session, token, request.app[CLOCK].now())
    if customer_id is None:
        key, status = _PROBLEM_PAGES.get(problem or LinkProblem.UNKNOWN, ("link_unknown", 404))
        return _render(request, "portal_message.html", {"message_key": key, "status": status}, status=status)
    return await _start(request, customer_id)


@routes.post("/portal/code/verify")
async def redeem_code(request: web.Request) -> web.Response:
    """Sign in with a case number and the texted code."""
    fields = await _signin_form(request)
    await check_limit(request, PORTAL_CODES_PER_CLIENT, client_address(request), _TOO_MANY_CODES)
    async with request.app[DATABASE].transaction() as session:
        customer_id, _ = await do_redeem_code(
            session, fields.get("case", "")[:20], fields.get("code", "")[:12], request.app[CLOCK].now()
        )
    if customer_id is None:
        await count_attempt(request, PORTAL_CODES_PER_CLIENT, client_address(request), _TOO_MANY_CODES)
        return _render(request, "portal_message.html", {"message_key": "code_bad", "status": 400}, status=400)
    return await _start(request, customer_id)


@routes.post("/portal/signout")
async def sign_out(request: web.Request) -> web.Response:
    """Sign the customer out."""
    signed_in = await _customer(request)
    await _form(request, signed_in)
    redirect = web.HTTPSeeOther("/portal")
    token = request.cookies.get(PORTAL_COOKIE)
    if token:
        async with request.app[DATABASE].transaction() as session:
            await do_end_portal_session(session, token)
    redirect.del_cookie(PORTAL_COOKIE, path="/")
    raise redirect


# Cases ------------------------------------------------------------------------------------------------------------


@routes.get("/portal/new")
async def new_case_form(request: web.Request) -> web.Response:
    """Show the new-case form; the script suggests articles while the subject is typed."""
    signed_in = await _customer(request)
    async with request.app[DATABASE].transaction() as session:
        draft = await do_open_draft(session, signed_in.customer, request.app[CLOCK].now())
    context = {"draft": draft.token, "categories": _CATEGORIES, "error": None, **_page_context(signed_in)}
    return _render(request, "portal_new.html", context)


@routes.post("/portal/new")
async def new_case(request: web.Request) -> web.Response:
    """Take the form in as a web contact: it becomes a case and is routed like any contact."""
    signed_in = await _customer(request)
    fields = await _form(request, signed_in)
    customer = signed_in.customer
    subject, body = fields.get("subject", "").strip()[:300], fields.get("body", "").strip()[:20_000]
    category = fields.get("category") if fields.get("category") in _CATEGORIES else None
    language = fields.get("language") if fields.get("language") in LANGUAGES else _language(request)
    if not subject or not body:
        context = {
            "draft": fields.get("draft", ""),
            "categories": _CATEGORIES,
            "error": "describe",
            **_page_context(signed_in),
        }
        return _render(request, "portal_new.html", context, status=400)
    database = request.app[DATABASE]
    async with database.transaction() as session:
        draft = await draft_for(session, customer, fields.get("draft", ""))
        identity = (
            await session.scalars(
                select(Identity).where(Identity.customer_id == customer.id, Identity.kind == IdentityKind.EMAIL)
            )
        ).first()
    if draft is None or identity is None:
        raise web.HTTPBadRequest(reason="the form expired; open a new one")
    result = await request.app[INTAKE].receive(
        ContactIntake(
            channel=Channel.WEB,
            # One contact per form: submitting twice (a double click, a retry) finds the first case.
            external_id=f"portal-{draft.token}",
            address=identity.address,
            name=customer.name,
            subject=subject,
            body=body,
            thread_key=f"portal-{draft.token}",
            category=category,
            language=language,
        ),
        request.app[CLOCK].now(),
    )
    async with database.transaction() as session:
        draft = await draft_for(session, customer, draft.token)
        assert draft is not None
        draft.case_id = result.case.id
    if result.created:
        await request.app[ROUTER].submit(
            RouteRequest(
                contact_id=result.contact.id or 0,
                case_id=result.case.id or 0,
                customer_id=result.case.customer_id,
                channel=Channel.WEB,
                queue=None,
                skills=dict(result.case.required_skills),
                language=language,
                priority=result.case.priority,
            )
        )
    raise web.HTTPSeeOther(f"/portal/cases/{result.case.number}")


def _case_not_found(request: web.Request, signed_in: PortalSignedIn) -> web.Response:
    context = {"message_key": "case_not_found", "status": 404, **_page_context(signed_in)}
    return _render(request, "portal_message.html", context, status=404)


@routes.get("/portal/cases/{case_ref}")
async def case_page(request: web.Request) -> web.Response:
    """Show one of the customer's cases with its public timeline."""
    signed_in = await _customer(request)
    try:
        return await _case_page(request, signed_in)
    except NotFound:
        return _case_not_found(request, signed_in)


async def _case_page(request: web.Request, signed_in: PortalSignedIn) -> web.Response:
    async with request.app[DATABASE].transaction() as session:
        case = await owned_case(session, signed_in.customer, request.match_info["case_ref"])
        events = [e for e in await timeline(session, case, public_only=True) if e.kind in _PUBLIC_EVENTS]
        survey = (await session.scalars(select(SurveyResponse).where(SurveyResponse.case_id == case.id))).first()
        files = await attachments_of(session, case)
        visits = await visits_for_cases(session, [case.id or 0])
        invoices = await invoices_of_cases(session, [case.id or 0])
    context = {
        "case": case,
        "events": events,
        "visits": visits,
        "invoices": invoices,
        "files": files,
        "survey": survey,
        "can_close": case.status is not CaseStatus.CLOSED,
        "can_reopen": case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED),
        "survey_open": case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) and survey is None,
        **_page_context(signed_in),
    }
    return _render(request, "portal_case.html", context)


@routes.post("/portal/cases/{case_ref}/{action:reply|close|reopen|survey}")
async def case_action(request: web.Request) -> web.Response:
    """Reply to, close, reopen or rate one of the customer's cases."""
    signed_in = await _customer(request)
    fields, upload = await _form_with_file(request, signed_in)
    action, now = request.match_info["action"], request.app[CLOCK].now()
    try:
        number = await _act(request, signed_in, action, fields, upload, now)
    except NotFound:
        return _case_not_found(request, signed_in)
    raise web.HTTPSeeOther(f"/portal/cases/{number}")


async def _act(
    request: web.Request,
    signed_in: PortalSignedIn,
    action: str,
    fields: dict[str, str],
    upload: Upload | None,
    now: datetime,
) -> str:
    async with request.app[DATABASE].transaction() as session:
        case = await owned_case(session, signed_in.customer, request.match_info["case_ref"], for_update=True)
        if action == "reply":
            await do_reply(session, signed_in.customer, case, fields.get("body", "")[:20_000], now, upload)
        elif action == "close":
            await do_close_case(session, signed_in.customer, case, now)
        elif action == "reopen":
            await do_reopen_case(session, signed_in.customer, case, now)
        else:
            score = fields.get("score", "")
            if not score.isdigit():
                raise InvalidInput("choose a score from 1 to 5", field="score")
            await do_submit_survey(session, signed_in.customer, case, int(score), fields.get("comment"), now)
        return case.number


@routes.get(r"/portal/cases/{case_ref}/files/{file_id:\d{1,12}}")
async def case_file(request: web.Request) -> web.Response:
    """Download a file attached to one of the customer's cases."""
    signed_in = await _customer(request)
    async with request.app[DATABASE].transaction() as session:
        try:
            case = await owned_case(session, signed_in.customer, request.match_info["case_ref"])
        except NotFound:
            return _case_not_found(request, signed_in)
        attachment = await session.get(PortalAttachment, int(request.match_info["file_id"]))
    if attachment is None or attachment.case_id != case.id:
        return _case_not_found(request, signed_in)
    return attachment_response(attachment)


def attachment_response(attachment: PortalAttachment) -> web.Response:
    """Send a stored attachment as a download (never rendered inline, whatever it claims to be)."""
    quoted = quote(attachment.filename)
    return web.Response(
        body=attachment.content,
        content_type=attachment.content_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quoted}"},
    )


@routes.get(r"/portal/invoices/{number:INV-[0-9]+-[0-9]+}.{kind:html|pdf}")
async def invoice_page(request: web.Request) -> web.Response:
    """Show or download one of the customer's invoices; anyone else's is simply not found."""
    signed_in = await _customer(request)
    async with request.app[DATABASE].transaction() as session:
        try:
            invoice, work_order = await find_invoice(session, request.match_info["number"])
        except NotFound:
            return _case_not_found(request, signed_in)
    if invoice.customer_id != signed_in.customer.id:
        return _case_not_found(request, signed_in)
    return invoice_file(invoice, work_order, request.match_info["kind"])
