"""Solomon VRPTW instances: the standard text format, and their conversion into a field-service day.

The format: a name line, ``VEHICLE`` with the number and capacity of vehicles, ``CUSTOMER`` with a header, then one
row per node: number, x, y, demand, ready time, due date, service time. Node 0 is the depot; its due date is the
horizon. Distances are Euclidean and travel time equals distance.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from field_service.problem import Location, Problem, Shift, Technician, TimeWindow, WorkOrder

__all__ = ["SolomonError", "SolomonInstance", "SolomonRow", "read_solomon", "solomon_problem"]

_DAY = date(2026, 1, 5)
# The horizon is mapped onto one day: the depot's due date becomes 23:53:20 at most.
_HORIZON_SECONDS = 86_000


class SolomonError(ValueError):
    """The text is not a Solomon instance; the message says where."""


@dataclass(frozen=True)
class SolomonRow:
    """One node of an instance."""

    number: int
    x: float
    y: float
    demand: int
    ready: float
    due: float
    service: float


@dataclass(frozen=True)
class SolomonInstance:
    """A Solomon instance: vehicles, their capacity, the depot and the customers."""

    name: str
    vehicles: int
    capacity: int
    depot: SolomonRow
    customers: tuple[SolomonRow, ...]

    def route_distance(self, routes: Sequence[Sequence[int]]) -> float:
        """Return the total Euclidean length (double precision) of routes given as customer numbers."""
        where = {row.number: (row.x, row.y) for row in self.customers}
        home = (self.depot.x, self.depot.y)
        total = 0.0
        for route in routes:
            stops = [home, *(where[number] for number in route), home]
            total += sum(math.dist(a, b) for a, b in itertools.pairwise(stops))
        return total

    @property
    def seconds_per_unit(self) -> float:
        """Return the scale that fits the horizon into one day, at least a second per unit."""
        return max(1.0, math.floor(_HORIZON_SECONDS / max(self.depot.due, 1.0)))


def read_solomon(text: str) -> SolomonInstance:
    """Parse a Solomon instance; raise :class:`SolomonError` naming the line that is wrong."""
    lines = text.splitlines()
    name = next((line.strip() for line in lines if line.strip()), "")
    if not name:
        raise SolomonError("the file is empty")
    vehicles = capacity = None
    rows: list[SolomonRow] = []
    section = ""
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        head = fields[0].upper()
        if head in {"VEHICLE", "CUSTOMER"}:
            section = head
            continue
        if not fields[0].lstrip("-").replace(".", "", 1).isdigit():
            continue
        try:
            if section == "VEHICLE" and vehicles is None:
                vehicles, capacity = int(fields[0]), int(fields[1])
            elif section == "CUSTOMER":
                if len(fields) != 7:
                    raise SolomonError(f"line {number}: a customer row has 7 numbers, found {len(fields)}")
                rows.append(
                    SolomonRow(
                        int(fields[0]),
                        float(fields[1]),
                        float(fields[2]),
                        int(float(fields[3])),
                        float(fields[4]),
                        float(fields[5]),
                        float(fields[6]),
                    )
                )
        except (ValueError, IndexError) as exc:
            if isinstance(exc, SolomonError):
                raise
            raise SolomonError(f"line {number}: {line.strip()!r} is not a row of numbers") from None
    if vehicles is None or capacity is None:
        raise SolomonError("no VEHICLE section with the number and capacity of vehicles")
    if vehicles < 1 or capacity < 0:
        raise SolomonError("the number of vehicles must be positive and the capacity not negative")
    if not rows:
        raise SolomonError("no CUSTOMER rows")
    if rows[0].number != 0:
        raise SolomonError("the first customer row must be the depot, number 0")
    customers = tuple(rows[1:])
    numbers = [row.number for row in customers]
    if len(set(numbers)) != len(numbers) or 0 in numbers:
        raise SolomonError("customer numbers must be unique and not 0")
    for row in rows:
        if row.due < row.ready or row.service < 0 or row.demand < 0:
            raise SolomonError(f"customer {row.number}: due before ready, or a negative service time or demand")
    return SolomonInstance(name, vehicles, capacity, rows[0], customers)


def solomon_problem(instance: SolomonInstance) -> Problem:
    """Return the instance as a day: a technician per vehicle at the depot, a work order per customer.

    Times scale by :attr:`SolomonInstance.seconds_per_unit`; travel must then be
    ``EuclideanTravel(instance.seconds_per_unit)``. Work order ids are the customer numbers.
    """
    scale = instance.seconds_per_unit
    midnight = datetime.combine(_DAY, time(0), tzinfo=UTC)

    def at(units: float) -> datetime:
        return midnight + timedelta(seconds=round(units * scale))

    def clock(units: float) -> time:
        return at(units).time()

    depot = instance.depot
    shift = Shift(clock(depot.ready), clock(depot.due))
    home = Location(depot.x, depot.y)
    technicians = tuple(
        Technician(
            id=f"V{number + 1:02d}",
            skills={},
            home=home,
            shifts=dict.fromkeys(range(7), shift),
            capacity=instance.capacity,
        )
        for number in range(instance.vehicles)
    )
    orders = tuple(
        WorkOrder(
            id=str(row.number),
            site=Location(row.x, row.y),
            duration=timedelta(seconds=round(row.service * scale)),
            window=TimeWindow(at(row.ready), at(row.due)),
            load=row.demand,
        )
        for row in instance.customers
    )
    return Problem(_DAY, UTC, technicians, orders)
