"""Domain errors: raised by services, mapped once to HTTP statuses and CLI messages at the edges."""

from __future__ import annotations

from typing import Any

__all__ = ["Conflict", "DomainError", "Forbidden", "InvalidInput", "NotFound", "RateLimited", "Unauthenticated"]


class DomainError(Exception):
    """A request the platform understood but cannot carry out; `code` is stable for API clients."""

    code = "error"
    status = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    code = "invalid_request"
    status = 400


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class Unauthenticated(DomainError):
    code = "unauthenticated"
    status = 401


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
