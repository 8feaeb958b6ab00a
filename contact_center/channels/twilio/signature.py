"""Which requests come from Twilio: the `X-Twilio-Signature` check, done exactly as Twilio signs.

Twilio signs the full URL it called (scheme, host, the raw path and query string as configured in the console or
written in our TwiML) followed by every POST parameter name and value, sorted, with HMAC-SHA1 under the account's
auth token. Behind a proxy the request's own URL is not the one Twilio called, so the URL is rebuilt from
`PUBLIC_BASE_URL` plus the raw path and query. Twilio's validator also accepts the URL with and without the
default port, because Twilio's own signing has not always been consistent about it.
"""

from __future__ import annotations

from collections.abc import Mapping

from multidict import MultiDictProxy
from twilio.request_validator import RequestValidator

__all__ = ["SIGNATURE_HEADER", "is_signed_by_twilio", "webhook_url"]

SIGNATURE_HEADER = "X-Twilio-Signature"


def webhook_url(public_base_url: str, raw_path: str) -> str:
    """Return the URL Twilio called: the public base plus the path and query string exactly as received."""
    return public_base_url.rstrip("/") + raw_path


def is_signed_by_twilio(
    auth_token: str, url: str, params: MultiDictProxy[str] | Mapping[str, str], signature: str | None
) -> bool:
    """Tell whether `signature` is Twilio's signature of this URL and form under the auth token."""
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, params, signature))
