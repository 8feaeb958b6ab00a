"""A case's technician visits as agents and customers see them."""

from __future__ import annotations

from contact_center.actors import SYSTEM
from contact_center.models import Channel
from contact_center.services.cases import NewCase, do_create_case
from contact_center.services.customers import CustomerFields, do_create_customer
from field_service.models import WorkOrderStatus
from field_service.visits import visits_for_cases
from tests.field_service.visits import add_visits


async def test_visits_come_planned_first_with_the_technicians_first_name(database, clock):
    async with database.transaction() as session:
        customer = await do_create_customer(session, CustomerFields(name="Ann"), clock.now())
        case = await do_create_case(
            session, NewCase(customer_id=customer.id, subject="Boiler", channel=Channel.WEB), SYSTEM, clock.now()
        )
        other = await do_create_case(
            session, NewCase(customer_id=customer.id, subject="Other", channel=Channel.WEB), SYSTEM, clock.now()
        )
        await add_visits(session, case.id, clock.now())
    async with database.transaction() as session:
        visits = await visits_for_cases(session, [case.id])
        assert await visits_for_cases(session, [other.id]) == []
    assert [(v.work_order, v.status, v.stage) for v in visits] == [
        ("W-repair", WorkOrderStatus.EN_ROUTE, "on_the_way"),
        ("W-inspect", WorkOrderStatus.UNSCHEDULED, "planning"),
    ]
    assert (visits[0].technician, visits[0].technician_first_name) == ("Ada Lovelace", "Ada")
    assert visits[1].technician_first_name is None
