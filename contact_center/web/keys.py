"""Typed application state (aiohttp `AppKey`s) shared by the web modules."""

from __future__ import annotations

from aiohttp import web

from contact_center.clock import Clock
from contact_center.db import Database
from contact_center.dispatch import ContactRouter, Dispatcher
from contact_center.hub import EventHub
from contact_center.intake_queue import IntakeQueue
from contact_center.settings import Settings
from contact_center.throttle import Throttle
from contact_center.web.metrics import Metrics

__all__ = [
    "CLOCK",
    "DATABASE",
    "DISPATCHER",
    "HUB",
    "INTAKE",
    "LEASE_HOLDER",
    "METRICS",
    "ROUTER",
    "SETTINGS",
    "THROTTLE",
]

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
CLOCK = web.AppKey("clock", Clock)
METRICS = web.AppKey("metrics", Metrics)
HUB = web.AppKey("hub", EventHub)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
# What channel adapters hand contacts to; the dispatcher in production, the same object as DISPATCHER.
ROUTER = web.AppKey("router", ContactRouter)
# Where channel adapters take their contacts in: concurrent arrivals share a transaction (group commit).
INTAKE = web.AppKey("intake", IntakeQueue)
# This app's name as a lease holder (`contact_center.leases`): background work that runs once across processes.
LEASE_HOLDER = web.AppKey("lease_holder", str)
# Counts of sign-in attempts and the like, shared by the processes when Redis is configured.
THROTTLE = web.AppKey("throttle", Throttle)
