"""The portal's figures for supervisors (satisfaction and deflection) and customers' files for agents."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web
from pydantic import BaseModel, ConfigDict, model_validator

from contact_center.errors import InvalidInput, NotFound
from contact_center.models import PortalAttachment, parse_case_number
from contact_center.portal.service import survey_report
from contact_center.portal.web import attachment_response
from contact_center.web.api.params import now, path_id
from contact_center.web.auth import AGENTS, SUPERVISORS
from contact_center.web.keys import DATABASE
from contact_center.web.router import ApiRouter

__all__ = ["router"]

router = ApiRouter("portal")


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime | None = None
    until: datetime | None = None

    @model_validator(mode="after")
    def _aware(self) -> ReportQuery:
        for value in (self.since, self.until):
            if value is not None and value.tzinfo is None:
                raise ValueError("give times with a timezone, e.g. 2026-11-23T00:00:00Z")
        return self


class PortalReport(BaseModel):
    since: datetime
    until: datetime
    responses: int
    average_score: float | None
    scores: dict[int, int]
    satisfied_share: float | None
    drafts: int
    deflected: int
    cases_from_portal: int


@router.route(
    "GET",
    "/api/v1/reports/portal",
    summary="Satisfaction survey results and new-case deflection (default: the last 30 days)",
    roles=SUPERVISORS,
    query=ReportQuery,
    response=PortalReport,
)
async def portal_report(request: web.Request, query: ReportQuery) -> PortalReport:
    until = query.until or now(request)
    since = query.since or until - timedelta(days=30)
    if since >= until:
        raise InvalidInput("since must be before until", field="since")
    async with request.app[DATABASE].transaction() as session:
        report = await survey_report(session, since, until)
    return PortalReport(since=since, until=until, **vars(report))


@router.route(
    "GET",
    "/api/v1/cases/{case_ref}/portal-files/{file_id}",
    summary="Download a file a customer attached in the portal",
    roles=AGENTS,
)
async def portal_file(request: web.Request) -> web.Response:
    case_id = parse_case_number(request.match_info["case_ref"])
    file_id = path_id(request, "file_id", "file")
    async with request.app[DATABASE].transaction() as session:
        attachment = await session.get(PortalAttachment, file_id)
    if attachment is None or attachment.case_id != case_id:
        raise NotFound(f"file {file_id} does not exist", resource="file")
    return attachment_response(attachment)
