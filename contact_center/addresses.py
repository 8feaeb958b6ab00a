"""Normalising the addresses customers reach us from, so one person is found by one key per channel kind."""

from __future__ import annotations

from email.headerregistry import Address
from email.utils import parseaddr

import phonenumbers

from contact_center.errors import InvalidInput
from contact_center.models.customers import IdentityKind

__all__ = ["normalise_address", "normalise_email", "normalise_phone"]


def normalise_phone(raw: str, default_region: str = "US") -> str:
    """Return a phone number in E.164 (+14155550100), reading national formats in `default_region`."""
    try:
        number = phonenumbers.parse(raw, None if raw.strip().startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"{raw!r} is not a phone number", field="address") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput(f"{raw!r} is not a possible phone number", field="address")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise_email(raw: str) -> str:
    """Return the bare address, lower-cased, with an internationalised domain in its ASCII form."""
    _, address = parseaddr(raw)
    local, sep, domain = address.strip().rpartition("@")
    if not sep or not local or not domain or " " in address:
        raise InvalidInput(f"{raw!r} is not an email address", field="address")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
        # Build an Address to let the standard library reject what RFC 5322 does not allow.
        Address(username=local, domain=ascii_domain)
    except (UnicodeError, ValueError) as exc:
        raise InvalidInput(f"{raw!r} is not an email address", field="address") from exc
    # Mailbox local parts are case-insensitive at every provider our customers use; treating them so
    # keeps "Ann@Example.com" and "ann@example.com" one person.
    return f"{local.lower()}@{ascii_domain}"


def normalise_address(kind: IdentityKind, raw: str, *, default_region: str = "US") -> str:
    """Normalise an address of the given kind; chat ids are kept as given, trimmed."""
    if kind is IdentityKind.PHONE:
        return normalise_phone(raw, default_region)
    if kind is IdentityKind.EMAIL:
        return normalise_email(raw)
    address = raw.strip()
    if not address:
        raise InvalidInput("a chat identity needs an id", field="address")
    return address
