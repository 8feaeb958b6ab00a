"""Reading numbers out of the staff pages' plain forms, with errors that name the field as the API's do."""

from __future__ import annotations

from collections.abc import Mapping

from contact_center.errors import InvalidInput

__all__ = ["levels_from", "whole_number"]


def whole_number(text: str, what: str, low: int, high: int) -> int:
    """Return ``text`` as an integer from ``low`` to ``high``; InvalidInput naming ``what`` otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise InvalidInput(f"{what} must be a whole number, not {text!r}", field=what) from None
    if not low <= value <= high:
        raise InvalidInput(f"{what} must be {low}-{high}, not {value}", field=what)
    return value


def levels_from(form: Mapping[str, str], prefix: str, what: str) -> dict[str, int]:
    """Return the skill levels (1-10) of the fields ``<prefix><skill>`` that are filled in."""
    return {
        key.removeprefix(prefix): whole_number(value, f"{what} {key.removeprefix(prefix)}", 1, 10)
        for key, value in form.items()
        if key.startswith(prefix) and value.strip()
    }
