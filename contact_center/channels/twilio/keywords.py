"""SMS keywords: the words that opt a number out of texts, back in, or ask for help.

The lists are the ones carriers require and Twilio's Advanced Opt-Out recognises for long codes; a keyword counts
only as the whole message (case, spaces and trailing punctuation aside), so "please stop calling me" is a
message for an agent, not an opt-out.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["HELP", "START", "STOP", "Keyword", "keyword_of"]

Keyword = Literal["stop", "start", "help"]

STOP = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START = frozenset({"START", "UNSTOP", "YES", "SUBSCRIBE"})
HELP = frozenset({"HELP", "INFO"})


def keyword_of(body: str) -> Keyword | None:
    """Return the keyword a message consists of, or None for an ordinary message."""
    word = body.strip().rstrip(".!").strip().upper()
    if word in STOP:
        return "stop"
    if word in START:
        return "start"
    if word in HELP:
        return "help"
    return None
