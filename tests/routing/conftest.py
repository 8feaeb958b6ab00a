"""Fixtures for routing tests: the example rules and an engine using them."""

from __future__ import annotations

import pytest

from routing.engine import RoutingEngine, RoutingSettings
from routing.workflows import RoutingRules, parse_rules
from tests.routing.factories import RULES_YAML


@pytest.fixture
def rules() -> RoutingRules:
    return parse_rules(RULES_YAML, "rules.yaml", known_skills={"billing", "support"})


@pytest.fixture
def engine(rules: RoutingRules) -> RoutingEngine:
    return RoutingEngine(rules, RoutingSettings(reservation_timeout=15, max_consecutive_misses=2))
