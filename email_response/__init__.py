"""Email response management: parsing, threading, RFC 3834 auto-replies, templates, IMAP and SMTP.

Modules (each documents its interface in its docstring; none imports aiohttp or `contact_center`):
- `parsing`: raw bytes -> `ParsedMessage` | `Unprocessable`, never raising.
- `threading`: which case a message belongs to (pure).
- `autoreply`: whether RFC 3834 allows an acknowledgement, and its headers (pure).
- `templates`: subject, text and HTML replies from sandboxed Jinja2 templates.
- `composing`: outbound `EmailMessage`s with a stable Message-ID and threading headers.
- `classification`: category, skills, priority and language from configured rules (pure).
- `smtp`: `SmtpSender.send()` raising `SendError(permanent=...)`.
- `imap`: `ImapReader`, at-least-once delivery to a handler, with a UIDVALIDITY/UID store the app provides.
- `sources`: raw messages from .eml files, Maildirs and mbox files, for imports.
"""
