"""Prometheus metrics: request counts and latencies per route, and store gauges read at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]


class Metrics:
    """One registry per application, so tests and several apps in one process never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cc_http_requests", "HTTP requests served", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "cc_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.cases = Gauge("cc_cases", "Cases by status", ["status"], registry=self.registry)
        self.outbox = Gauge(
            "cc_outbox_messages", "Outbox messages by channel and status", ["channel", "status"], registry=self.registry
        )
        self.contacts = Gauge("cc_contacts", "Contacts by channel", ["channel"], registry=self.registry)

    def render(self) -> bytes:
        """Return the text exposition format."""
        return generate_latest(self.registry)
