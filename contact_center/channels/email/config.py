"""The email intake's configuration read from settings: classification rules, size limit, mailboxes' queues."""

from __future__ import annotations

from typing import Any

import yaml

from contact_center.channels.email.intake import EmailIntake, IntakeLimits, Suggest
from contact_center.settings import ConfigError, Settings
from email_response.classification import Rule, RulesError, load_rules

__all__ = ["email_intake", "load_email_rules"]


def load_email_rules(settings: Settings) -> tuple[Rule, ...]:
    """Return the classification rules of EMAIL_RULES (none without it); raise ConfigError naming the problem."""
    if settings.email_rules is None:
        return ()
    try:
        data: Any = yaml.safe_load(settings.email_rules.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"EMAIL_RULES {settings.email_rules}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"EMAIL_RULES {settings.email_rules}: expected a mapping of category to rule")
    try:
        return load_rules(data)
    except RulesError as exc:
        raise ConfigError(f"EMAIL_RULES {settings.email_rules}: {exc}") from exc


def email_intake(
    settings: Settings,
    *,
    queue: str | None = None,
    rules: tuple[Rule, ...] | None = None,
    suggest: Suggest | None = None,
) -> EmailIntake:
    """Return how a mailbox's mail is taken in: the configured rules and size limit, the mailbox's queue."""
    return EmailIntake(
        rules=load_email_rules(settings) if rules is None else rules,
        queue=queue,
        suggest=suggest,
        limits=IntakeLimits(max_message_bytes=settings.email_max_message_mb * 1_000_000),
    )
