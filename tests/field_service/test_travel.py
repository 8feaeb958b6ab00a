"""Travel matrices: haversine with a road factor, and plane distances for benchmark instances."""

from __future__ import annotations

import pytest

from field_service.problem import Location
from field_service.travel import EuclideanTravel, HaversineTravel

AMSTERDAM = Location(52.3676, 4.9041)
ROTTERDAM = Location(51.9244, 4.4777)


def test_haversine_matches_the_known_distance_times_the_road_factor() -> None:
    travel = HaversineTravel(road_factor=1.3, speed_kmh=60)
    # Amsterdam to Rotterdam is 57.0 km as the crow flies.
    assert travel.km(AMSTERDAM, ROTTERDAM) == pytest.approx(57.0 * 1.3, rel=0.01)
    matrix = travel.seconds([AMSTERDAM, ROTTERDAM])
    assert matrix[0][0] == matrix[1][1] == 0
    assert matrix[0][1] == matrix[1][0] == pytest.approx(57.0 * 1.3 * 60, rel=0.01)


def test_a_slower_speed_takes_longer() -> None:
    fast = HaversineTravel(speed_kmh=80).seconds([AMSTERDAM, ROTTERDAM])[0][1]
    slow = HaversineTravel(speed_kmh=40).seconds([AMSTERDAM, ROTTERDAM])[0][1]
    assert slow == pytest.approx(2 * fast, abs=1)


def test_euclidean_scales_plane_distance() -> None:
    assert EuclideanTravel(10).seconds([Location(0, 0), Location(3, 4)]) == [[0, 50], [50, 0]]


@pytest.mark.parametrize(("road_factor", "speed"), [(0.9, 40), (1.3, 0)])
def test_nonsense_settings_are_refused(road_factor: float, speed: float) -> None:
    with pytest.raises(ValueError, match="road factor"):
        HaversineTravel(road_factor=road_factor, speed_kmh=speed)
