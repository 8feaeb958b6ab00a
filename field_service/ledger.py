"""The stock ledger: every change to spare-parts stock, as a movement row plus the updated running balance.

Each operation runs inside the caller's transaction. It first locks the stock levels it touches (``FOR UPDATE`` on
PostgreSQL, in id order so two transfers in opposite directions cannot deadlock; SQLite's ``BEGIN IMMEDIATE``
already serialises writers), then checks availability, then writes the movement and the new balance. So two
technicians taking the last unit at the same moment cannot both succeed, and the CHECK constraints on
``stock_levels`` are a last guard: stock never goes negative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from field_service.models import LocationKind, MovementKind, Part, StockLevel, StockLocation, StockMovement
from field_service.operations import PurchaseRequest, PurchaseStatus
from field_service.problem import Location
from field_service.travel import HaversineTravel

__all__ = ["Availability", "InsufficientStock", "ReorderLine", "StockError", "StockLedger", "holdings"]


_CROW_FLIES = HaversineTravel(road_factor=1.0)


class StockError(ValueError):
    """A stock operation that makes no sense: unknown part or location, a quantity below one."""


class InsufficientStock(StockError):
    """Not enough available (or reserved) stock for the operation."""


@dataclass(frozen=True)
class Availability:
    """Usable units of a part at one location, and how far that location is."""

    location: str
    kind: LocationKind
    technician: str | None
    available: int
    km: float | None


@dataclass(frozen=True)
class ReorderLine:
    """A level at or below its reorder point, and how much to order."""

    location: str
    sku: str
    available: int
    reorder_point: int
    order_quantity: int


class StockLedger:
    """Stock operations on one session (one transaction), stamped with ``now`` and the acting person."""

    def __init__(self, session: AsyncSession, now: datetime, actor: str = "") -> None:
        self.session = session
        self.now = now
        self.actor = actor

    async def add_part(self, sku: str, name: str, unit_price_cents: int = 0) -> Part:
        """Add a part to the catalogue."""
        if not sku.strip() or unit_price_cents < 0:
            raise StockError("a part needs a SKU and a price of at least zero")
        part = Part(sku=sku, name=name, unit_price_cents=unit_price_cents)
        self.session.add(part)
        await self.session.flush()
        return part

    async def add_location(
        self,
        code: str,
        name: str,
        kind: LocationKind,
        *,
        technician: str | None = None,
        warehouse: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
    ) -> StockLocation:
        """Add a warehouse, or a technician's van that restocks from ``warehouse``."""
        if kind is LocationKind.VAN and not technician:
            raise StockError("a van belongs to a technician")
        warehouse_id = (await self._location(warehouse)).id if warehouse else None
        location = StockLocation(
            code=code, name=name, kind=kind, technician=technician, warehouse_id=warehouse_id, lat=lat, lon=lon
        )
        self.session.add(location)
        await self.session.flush()
        return location

    async def set_reorder_point(self, location: str, sku: str, point: int, quantity: int) -> None:
        """Reorder ``quantity`` units when what is available at ``location`` falls to ``point`` or below."""
        if point < 0 or quantity < 0:
            raise StockError("reorder point and quantity must be at least zero")
        (level,) = await self._locked(await self._location(location), await self._part(sku))
        level.reorder_point, level.reorder_quantity = point, quantity
        await self._alert_if_low(level)

    async def receive(self, location: str, sku: str, quantity: int, note: str = "") -> StockMovement:
        """Book goods received at ``location``."""
        where, part = await self._location(location), await self._part(sku)
        (level,) = await self._locked(where, part)
        level.on_hand += _positive(quantity)
        return await self._record(MovementKind.RECEIPT, part, None, where, quantity, note=note)

    async def transfer(self, source: str, destination: str, sku: str, quantity: int, note: str = "") -> StockMovement:
        """Move available units from one location to another (a van restocking, a van lending to another)."""
        origin, target, part = await self._location(source), await self._location(destination), await self._part(sku)
        if origin.id == target.id:
            raise StockError("a transfer needs two different locations")
        out, into = await self._locked(origin, part, target)
        _need(out, quantity)
        out.on_hand -= quantity
        into.on_hand += quantity
        await self._alert_if_low(out)
        return await self._record(MovementKind.TRANSFER, part, origin, target, quantity, note=note)

    async def reserve(self, location: str, sku: str, quantity: int, work_order: str) -> StockMovement:
        """Hold units for a scheduled work order."""
        where, part = await self._location(location), await self._part(sku)
        (level,) = await self._locked(where, part)
        _need(level, quantity)
        level.reserved += quantity
        await self._alert_if_low(level)
        return await self._record(MovementKind.RESERVATION, part, None, where, quantity, quantity, work_order)

    async def release(self, location: str, sku: str, quantity: int, work_order: str) -> StockMovement:
        """Give back units held for a work order (rescheduled elsewhere, cancelled)."""
        where, part = await self._location(location), await self._part(sku)
        (level,) = await self._locked(where, part)
        held = await self._held(where, part, work_order)
        if _positive(quantity) > held:
            raise InsufficientStock(f"work order {work_order} holds {held} of {sku} at {location}, not {quantity}")
        level.reserved -= quantity
        return await self._record(MovementKind.RELEASE, part, where, None, quantity, quantity, work_order)

    async def consume(self, location: str, sku: str, quantity: int, work_order: str) -> StockMovement:
        """Book parts used on a job: first from what the work order holds, the rest from available stock."""
        where, part = await self._location(location), await self._part(sku)
        (level,) = await self._locked(where, part)
        from_held = min(_positive(quantity), await self._held(where, part, work_order))
        if quantity - from_held > level.on_hand - level.reserved:
            raise InsufficientStock(
                f"{location} has {level.on_hand - level.reserved} of {sku} available, the job needs "
                f"{quantity - from_held} more than it holds"
            )
        level.reserved -= from_held
        level.on_hand -= quantity
        await self._alert_if_low(level)
        return await self._record(MovementKind.CONSUMPTION, part, where, None, quantity, from_held, work_order)

    async def return_defective(
        self, source: str, destination: str, sku: str, quantity: int, work_order: str | None = None
    ) -> StockMovement:
        """Book defective units taken out on a job and handed in at ``destination`` (usually a warehouse)."""
        origin, target, part = await self._location(source), await self._location(destination), await self._part(sku)
        (level,) = await self._locked(target, part)
        level.defective += _positive(quantity)
        return await self._record(MovementKind.DEFECTIVE_RETURN, part, origin, target, quantity, 0, work_order)

    async def level(self, location: str, sku: str) -> StockLevel:
        """Return the stock level of a part at a location (zeros if none was ever booked)."""
        where, part = await self._location(location), await self._part(sku)
        found = await self._find_level(where, part)
        return found or StockLevel(location_id=where.id or 0, part_id=part.id or 0)

    async def where_is(
        self, sku: str, *, technician: str | None = None, lat: float | None = None, lon: float | None = None
    ) -> list[Availability]:
        """Return where units of ``sku`` are available: the technician's own van, other vans, then warehouses.

        Within each group the nearest comes first when a position is given.
        """
        part = await self._part(sku)
        rows = (
            await self.session.execute(
                select(StockLocation, StockLevel)
                .join(StockLevel, col(StockLevel.location_id) == col(StockLocation.id))
                .where(StockLevel.part_id == part.id, col(StockLevel.on_hand) - col(StockLevel.reserved) > 0)
            )
        ).all()
        found = [
            Availability(
                location.code,
                location.kind,
                location.technician,
                level.on_hand - level.reserved,
                _km(lat, lon, location.lat, location.lon),
            )
            for location, level in rows
        ]

        def rank(item: Availability) -> tuple[int, float, str]:
            group = 0 if technician and item.technician == technician else 1 if item.kind is LocationKind.VAN else 2
            return group, item.km if item.km is not None else math.inf, item.location

        return sorted(found, key=rank)

    async def reorder_report(self) -> list[ReorderLine]:
        """Return every level whose available stock is at or below its reorder point."""
        available = col(StockLevel.on_hand) - col(StockLevel.reserved)
        rows = (
            await self.session.execute(
                select(StockLocation.code, Part.sku, StockLevel)
                .join(StockLevel, col(StockLevel.location_id) == col(StockLocation.id))
                .join(Part, col(Part.id) == col(StockLevel.part_id))
                .where(col(StockLevel.reorder_point) > 0, available <= col(StockLevel.reorder_point))
                .order_by(StockLocation.code, Part.sku)
            )
        ).all()
        return [
            ReorderLine(code, sku, level.on_hand - level.reserved, level.reorder_point, level.reorder_quantity)
            for code, sku, level in rows
        ]

    async def holdings(self) -> dict[tuple[str, str, str], int]:
        """Return what each work order holds: {(location code, SKU, work order): units}."""
        return await holdings(self.session)

    async def replay(self) -> dict[tuple[int, int], tuple[int, int, int]]:
        """Recompute (on hand, reserved, defective) per (location id, part id) from the movements alone."""
        balances: dict[tuple[int, int], list[int]] = {}

        def at(location: int | None, part: int) -> list[int]:
            return balances.setdefault((location or 0, part), [0, 0, 0])

        movements = (await self.session.execute(select(StockMovement).order_by(col(StockMovement.id)))).scalars()
        for m in movements:
            if m.kind is MovementKind.RECEIPT:
                at(m.to_location_id, m.part_id)[0] += m.quantity
            elif m.kind is MovementKind.TRANSFER:
                at(m.from_location_id, m.part_id)[0] -= m.quantity
                at(m.to_location_id, m.part_id)[0] += m.quantity
            elif m.kind is MovementKind.RESERVATION:
                at(m.to_location_id, m.part_id)[1] += m.reserved_quantity
            elif m.kind is MovementKind.RELEASE:
                at(m.from_location_id, m.part_id)[1] -= m.reserved_quantity
            elif m.kind is MovementKind.CONSUMPTION:
                balance = at(m.from_location_id, m.part_id)
                balance[0] -= m.quantity
                balance[1] -= m.reserved_quantity
            else:
                at(m.to_location_id, m.part_id)[2] += m.quantity
        return {key: (v[0], v[1], v[2]) for key, v in balances.items()}

    async def _part(self, sku: str) -> Part:
        part = (await self.session.execute(select(Part).where(Part.sku == sku))).scalar_one_or_none()
        if part is None:
            raise StockError(f"no part {sku} in the catalogue")
        return part

    async def _location(self, code: str) -> StockLocation:
        location = (
            await self.session.execute(select(StockLocation).where(StockLocation.code == code))
        ).scalar_one_or_none()
        if location is None:
            raise StockError(f"no stock location {code}")
        return location

    async def _find_level(self, location: StockLocation, part: Part, *, lock: bool = False) -> StockLevel | None:
        query = select(StockLevel).where(StockLevel.location_id == location.id, StockLevel.part_id == part.id)
        if lock:
            query = query.with_for_update()
        return (await self.session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()

    async def _locked(self, *args: StockLocation | Part) -> list[StockLevel]:
        """Lock (creating them if need be) the levels of one part at the given locations, in the order given."""
        part = next(a for a in args if isinstance(a, Part))
        locations = [a for a in args if isinstance(a, StockLocation)]
        for location in locations:
            if await self._find_level(location, part) is None:
                await self._create_level(location, part)
        levels: dict[int, StockLevel] = {}
        for location in sorted(locations, key=lambda loc: loc.id or 0):
            level = await self._find_level(location, part, lock=True)
            if level is None:  # pragma: no cover - created just above
                raise StockError("stock level vanished")
            levels[location.id or 0] = level
        return [levels[location.id or 0] for location in locations]

    async def _alert_if_low(self, level: StockLevel) -> None:
        """Raise a purchase request when available stock is at or below the reorder point, unless one is open.

        The insert skips a pair that already has an open request (its unique ``open_key``), so two movements at
        once raise one request.
        """
        available = level.on_hand - level.reserved
        if level.reorder_point <= 0 or available > level.reorder_point:
            return
        table = PurchaseRequest.__table__  # type: ignore[attr-defined]
        values = {
            "location_id": level.location_id,
            "part_id": level.part_id,
            "quantity": level.reorder_quantity or level.reorder_point - available + 1,
            "status": PurchaseStatus.OPEN,
            "open_key": f"{level.location_id}:{level.part_id}",
            "reason": "reorder alert",
            "actor": self.actor,
            "created_at": self.now,
            "updated_at": self.now,
        }
        insert = pg_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        await self.session.execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=["open_key"]))

    async def _create_level(self, location: StockLocation, part: Part) -> None:
        # Two transactions may create the same level at once: insert-or-ignore lets both go on to lock the one row.
        table = StockLevel.__table__  # type: ignore[attr-defined]
        values = {
            "location_id": location.id,
            "part_id": part.id,
            "on_hand": 0,
            "reserved": 0,
            "defective": 0,
            "reorder_point": 0,
            "reorder_quantity": 0,
        }
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(pg_insert(table).values(**values).on_conflict_do_nothing())
        else:
            await self.session.execute(sqlite_insert(table).values(**values).on_conflict_do_nothing())

    async def _held(self, location: StockLocation, part: Part, work_order: str) -> int:
        """Return the units ``work_order`` holds at ``location``, from its movements."""
        signed = func.coalesce(
            func.sum(
                sa.case((col(StockMovement.kind) == MovementKind.RESERVATION, 1), else_=-1)
                * col(StockMovement.reserved_quantity)
            ),
            0,
        )
        held = await self.session.execute(
            select(signed).where(
                StockMovement.part_id == part.id,
                StockMovement.work_order == work_order,
                (col(StockMovement.to_location_id) == location.id)
                | (col(StockMovement.from_location_id) == location.id),
                col(StockMovement.kind).in_([MovementKind.RESERVATION, MovementKind.RELEASE, MovementKind.CONSUMPTION]),
            )
        )
        return int(held.scalar_one())

    async def _record(
        self,
        kind: MovementKind,
        part: Part,
        source: StockLocation | None,
        destination: StockLocation | None,
        quantity: int,
        reserved_quantity: int = 0,
        work_order: str | None = None,
        note: str = "",
    ) -> StockMovement:
        movement = StockMovement(
            kind=kind,
            part_id=part.id or 0,
            from_location_id=source.id if source else None,
            to_location_id=destination.id if destination else None,
            quantity=quantity,
            reserved_quantity=reserved_quantity,
            work_order=work_order,
            note=note,
            actor=self.actor,
            created_at=self.now,
        )
        self.session.add(movement)
        await self.session.flush()
        return movement


async def holdings(session: AsyncSession) -> dict[tuple[str, str, str], int]:
    """Return what each work order holds: {(location code, SKU, work order): units}, from the movements."""
    held: dict[tuple[str, str, str], int] = {}
    locations = {loc.id: loc.code for loc in (await session.execute(select(StockLocation))).scalars()}
    parts = {part.id: part.sku for part in (await session.execute(select(Part))).scalars()}
    movements = await session.execute(
        select(StockMovement).where(
            col(StockMovement.work_order).is_not(None),
            col(StockMovement.kind).in_([MovementKind.RESERVATION, MovementKind.RELEASE, MovementKind.CONSUMPTION]),
        )
    )
    for m in movements.scalars():
        where = m.to_location_id if m.kind is MovementKind.RESERVATION else m.from_location_id
        key = (locations[where], parts[m.part_id], m.work_order or "")
        sign = 1 if m.kind is MovementKind.RESERVATION else -1
        held[key] = held.get(key, 0) + sign * m.reserved_quantity
    return {key: units for key, units in held.items() if units > 0}


def _positive(quantity: int) -> int:
    if quantity < 1:
        raise StockError("a quantity must be at least 1")
    return quantity


def _need(level: StockLevel, quantity: int) -> None:
    available = level.on_hand - level.reserved
    if _positive(quantity) > available:
        raise InsufficientStock(f"only {available} available, {quantity} needed")


def _km(lat: float | None, lon: float | None, other_lat: float | None, other_lon: float | None) -> float | None:
    if lat is None or lon is None or other_lat is None or other_lon is None:
        return None
    return round(_CROW_FLIES.km(Location(lat, lon), Location(other_lat, other_lon)), 2)
