"""Configuration: read from the environment in exactly one place, parsed strictly.

A bad value stops start-up with a message naming the variable, so a typo never turns into a silently different
deployment. Everything else receives a `Settings` object; nothing reads `os.environ` on its own.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

IPNetwork = IPv4Network | IPv6Network

__all__ = ["ConfigError", "Settings"]


class ConfigError(ValueError):
    """A configuration value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Everything the platform can be configured with; see the README's configuration table."""

    data_dir: Path = Path("data")
    database_url: str = ""
    # Connections each process keeps to PostgreSQL at most (all kept once opened; see contact_center/db.py).
    database_pool_size: int = 30
    redis_url: str | None = None
    redis_prefix: str = "cc:routing:"
    secret_key: str = field(default="", repr=False)
    public_base_url: str | None = None
    cookie_secure: bool = False
    session_hours: int = 12
    default_phone_region: str = "US"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_api_base: str = "https://api.twilio.com"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_from: str = "support@localhost"
    outbox_drop_dir: Path | None = None
    imap_host: str | None = None
    imap_port: int = 143
    imap_username: str | None = None
    imap_password: str | None = field(default=None, repr=False)
    #: (mailbox, queue or None) per mailbox the IMAP intake reads: IMAP_MAILBOXES="INBOX,Billing=billing".
    imap_mailboxes: tuple[tuple[str, str | None], ...] = (("INBOX", None),)
    email_rules: Path | None = None
    email_max_message_mb: int = 25
    background_workers: bool = True
    routing_rules: Path | None = None
    # Other sites that may embed the chat widget (their origins, e.g. https://shop.example); our own is always allowed.
    chat_allowed_origins: tuple[str, ...] = ()
    # Field service: the time zone of shifts and planned days, and the solver time of automatic re-plans.
    field_time_zone: str = "UTC"
    field_replan_seconds: float = 5.0
    # How long a process holds the lease on a run-once background loop without renewing (contact_center.leases).
    lease_seconds: int = 15
    # A YAML file whose keys replace the shipped field-service price list's (field_service/price_list.yaml).
    price_list: Path | None = None
    # Reverse proxies whose X-Forwarded-For is believed when they connect (rate limits count the client behind).
    trusted_proxies: tuple[IPNetwork, ...] = ()

    @property
    def field_zone(self) -> ZoneInfo:
        """The time zone of field-service shifts and planned days (FIELD_TIME_ZONE, checked at start-up)."""
        return ZoneInfo(self.field_time_zone)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Parse settings from environment variables, creating DATA_DIR and a persistent secret if needed."""
        data_dir = Path(env.get("DATA_DIR") or "data").expanduser().resolve()
        settings = cls(
            data_dir=data_dir,
            database_url=normalise_database_url(
                env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'contact-center.db'}"
            ),
            database_pool_size=_int(env, "DATABASE_POOL_SIZE", default=30, minimum=1),
            redis_url=_url(env, "REDIS_URL", schemes=("redis", "rediss", "unix")),
            redis_prefix=env.get("REDIS_PREFIX") or "cc:routing:",
            secret_key=env.get("SECRET_KEY") or "",
            public_base_url=_url(env, "PUBLIC_BASE_URL", schemes=("http", "https")),
            cookie_secure=_bool(env, "COOKIE_SECURE", default=False),
            session_hours=_int(env, "SESSION_HOURS", default=12, minimum=1),
            default_phone_region=(env.get("DEFAULT_PHONE_REGION") or "US").upper(),
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
            twilio_api_base=_url(env, "TWILIO_API_BASE", schemes=("http", "https")) or "https://api.twilio.com",
            smtp_host=env.get("SMTP_HOST") or None,
            smtp_port=_int(env, "SMTP_PORT", default=25, minimum=1),
            smtp_username=env.get("SMTP_USERNAME") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_from=env.get("SMTP_FROM") or "support@localhost",
            outbox_drop_dir=Path(env["OUTBOX_DROP_DIR"]).expanduser().resolve() if env.get("OUTBOX_DROP_DIR") else None,
            imap_host=env.get("IMAP_HOST") or None,
            imap_port=_int(env, "IMAP_PORT", default=143, minimum=1),
            imap_username=env.get("IMAP_USERNAME") or None,
            imap_password=env.get("IMAP_PASSWORD") or None,
            imap_mailboxes=_mailboxes(env, "IMAP_MAILBOXES"),
            email_rules=_existing_file(env, "EMAIL_RULES"),
            email_max_message_mb=_int(env, "EMAIL_MAX_MESSAGE_MB", default=25, minimum=1),
            background_workers=_bool(env, "BACKGROUND_WORKERS", default=True),
            routing_rules=_existing_file(env, "ROUTING_RULES"),
            chat_allowed_origins=_origins(env, "CHAT_ALLOWED_ORIGINS"),
            field_time_zone=_time_zone(env, "FIELD_TIME_ZONE"),
            field_replan_seconds=_int(env, "FIELD_REPLAN_SECONDS", default=5, minimum=1),
            lease_seconds=_int(env, "LEASE_SECONDS", default=15, minimum=1),
            price_list=_existing_file(env, "PRICE_LIST"),
            trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
        )
        if not settings.secret_key:
            settings = replace(settings, secret_key=_persistent_secret(data_dir))
        return settings


def normalise_database_url(url: str) -> str:
    """Map plain database URLs onto the async drivers the case store uses."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"DATABASE_URL {url!r} is not a URL such as postgresql://user@host/db or sqlite:///path")
    drivers = {
        "sqlite": "sqlite+aiosqlite",
        "sqlite+aiosqlite": "sqlite+aiosqlite",
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
        "postgresql+asyncpg": "postgresql+asyncpg",
    }
    if scheme not in drivers:
        raise ConfigError(f"DATABASE_URL scheme {scheme!r} is not supported; use sqlite:// or postgresql://")
    return f"{drivers[scheme]}://{rest}"


def _persistent_secret(data_dir: Path) -> str:
    """Keep one random secret per data directory so sessions survive restarts without configuration."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


def _url(env: Mapping[str, str], name: str, *, schemes: tuple[str, ...]) -> str | None:
    value = env.get(name) or None
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.scheme == "unix"):
        raise ConfigError(f"{name} {value!r} must be a URL starting with {' or '.join(s + '://' for s in schemes)}")
    return value.rstrip("/")


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    origins = []
    for raw in (env.get(name) or "").split(","):
        if not raw.strip():
            continue
        parsed = urlsplit(raw.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path not in ("", "/"):
            raise ConfigError(f"{name}: {raw.strip()!r} is not an origin like https://shop.example")
        origins.append(f"{parsed.scheme}://{parsed.netloc}".lower())
    return tuple(origins)


def _existing_file(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ConfigError(f"{name} {raw!r} is not a readable file")
    return path


def _mailboxes(env: Mapping[str, str], name: str) -> tuple[tuple[str, str | None], ...]:
    raw = env.get(name)
    if not raw:
        return (("INBOX", None),)
    mailboxes: dict[str, str | None] = {}
    for item in raw.split(","):
        mailbox, sep, queue = (part.strip() for part in item.partition("="))
        if not mailbox or (sep and not queue):
            raise ConfigError(f"{name} {raw!r}: list mailboxes as INBOX,Billing=billing (mailbox=queue)")
        if mailbox in mailboxes:
            raise ConfigError(f"{name} names mailbox {mailbox!r} twice")
        mailboxes[mailbox] = queue or None
    return tuple(mailboxes.items())


def _int(env: Mapping[str, str], name: str, *, default: int, minimum: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} {raw!r} is not a whole number") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def _networks(env: Mapping[str, str], name: str) -> tuple[IPNetwork, ...]:
    networks = []
    for item in (env.get(name) or "").split(","):
        if item.strip():
            try:
                networks.append(ip_network(item.strip(), strict=False))
            except ValueError as exc:
                raise ConfigError(
                    f"{name}: {item.strip()!r} is not an IP address or network such as 10.0.0.0/8"
                ) from exc
    return tuple(networks)


def _bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} {raw!r} is not a boolean (use true or false)")


def _time_zone(env: Mapping[str, str], name: str) -> str:
    raw = env.get(name) or "UTC"
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{name} {raw!r} is not a known time zone such as Europe/Amsterdam") from exc
    return raw
