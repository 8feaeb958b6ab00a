"""Email response management: parsing, threading, RFC 3834 auto-replies, templates, IMAP and SMTP."""
