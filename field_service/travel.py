"""Travel times between points, behind a small interface so a road-network service can replace the default."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from field_service.problem import Location

__all__ = ["EARTH_RADIUS_KM", "EuclideanTravel", "HaversineTravel", "TravelMatrix"]

EARTH_RADIUS_KM = 6371.0088


class TravelMatrix(Protocol):
    """Whole seconds to drive from every point to every other one (``matrix[i][j]``: from i to j)."""

    def seconds(self, points: Sequence[Location]) -> list[list[int]]:
        """Return the square matrix of driving times between ``points``."""
        ...


@dataclass(frozen=True)
class HaversineTravel:
    """Great-circle distance times a road factor, driven at a constant average speed."""

    # Roads are rarely straight: 1.3 is the usual detour ratio for urban and regional road networks.
    road_factor: float = 1.3
    speed_kmh: float = 40.0

    def __post_init__(self) -> None:
        if not (self.road_factor >= 1 and self.speed_kmh > 0):
            raise ValueError("the road factor must be at least 1 and the speed positive")

    def seconds(self, points: Sequence[Location]) -> list[list[int]]:
        """Return driving seconds between every pair of ``points``."""
        radians = [(math.radians(p.lat), math.radians(p.lon)) for p in points]
        seconds_per_km = 3600.0 / self.speed_kmh
        matrix: list[list[int]] = []
        for lat1, lon1 in radians:
            row = []
            for lat2, lon2 in radians:
                km = _haversine_km(lat1, lon1, lat2, lon2) * self.road_factor
                row.append(round(km * seconds_per_km))
            matrix.append(row)
        return matrix

    def km(self, a: Location, b: Location) -> float:
        """Return the road distance estimate in kilometres."""
        return (
            _haversine_km(math.radians(a.lat), math.radians(a.lon), math.radians(b.lat), math.radians(b.lon))
            * self.road_factor
        )


@dataclass(frozen=True)
class EuclideanTravel:
    """Plane distance (``lat`` and ``lon`` read as x and y) times ``seconds_per_unit``: benchmark instances."""

    seconds_per_unit: float = 1.0

    def seconds(self, points: Sequence[Location]) -> list[list[int]]:
        """Return rounded plane distances between every pair of ``points``, scaled to seconds."""
        return [
            [round(math.dist((a.lat, a.lon), (b.lat, b.lon)) * self.seconds_per_unit) for b in points] for a in points
        ]


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    half_chord = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(half_chord)))
