"""What a Twilio contact asks of routing: its priority and language, decided from plain data."""

from __future__ import annotations

from contact_center.models import CasePriority, CustomerTier

__all__ = ["flow_language", "route_language", "route_priority"]

# An IVR enqueue node's priority at or above this marks the call as urgent business (the example flow gives
# high-value billing callers 10).
_HIGH_FLOW_PRIORITY = 10


def route_priority(tier: CustomerTier | str | None, flow_priority: int = 0) -> CasePriority:
    """Return the case priority for a contact: high-value customers and priority queues come first."""
    if tier == CustomerTier.HIGH or flow_priority >= _HIGH_FLOW_PRIORITY:
        return CasePriority.HIGH
    return CasePriority.NORMAL


def route_language(tag: str | None) -> str | None:
    """Return the language an agent must speak ("zh" for "zh-CN"), as agents' profiles name languages."""
    if not tag:
        return None
    return tag.replace("_", "-").split("-")[0].lower() or None


def flow_language(customer_language: str | None, flow_languages: list[str]) -> str | None:
    """Return the flow's language matching a customer's ("en" -> "en-US"), or None when it speaks none."""
    if not customer_language:
        return None
    if customer_language in flow_languages:
        return customer_language
    base = route_language(customer_language)
    return next((tag for tag in flow_languages if route_language(tag) == base), None)
