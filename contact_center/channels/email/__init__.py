"""The email channel: mail in over IMAP (or an import) as contacts on cases, mail out through the outbox over SMTP.

- `intake`: one raw message stored, threaded into a case, acknowledged per RFC 3834 and routed (`take_in_message`),
  or a whole IMAP batch set-based with the same outcome (`do_take_in_batch`).
- `transport`: the outbox's email transport over `email_response.smtp.SmtpSender`.
- `worker`: the IMAP reader, each batch taken in within one transaction (`BatchTransaction`; one by one, a
  savepoint each, once one failed); its state in the `imap_state` table.
- `lookups`: what a batch's messages ask the store, asked once for all of them (`BatchLookups`).
- `importer`: `contact-center email import PATH...` for mail from another help desk.
- `web`: the IMAP intake as the app's background task, and the transport for the outbox sender.

The decisions (parsing, threading, auto-reply rules, templates) live in the `email_response` package; this package
only looks up what they need and stores what they decide. Tables are in `contact_center.models.email`.
"""
