"""The Twilio channel: phone calls through the IVR and text messages, both arriving as signed webhooks.

- `signature`: which requests really come from Twilio. `statuses` and `keywords`: pure decisions about call and
  delivery statuses and SMS keywords. `options`: the channel's own settings.
- `rest`: the one adapter over Twilio's REST API (send a text, create or redirect a call).
- `service`: every change to the channel's tables (call state, opt-outs, deliveries).
- `sms`: texts in (a contact on a case) and out (the outbox transport). `voice`: a call through the IVR.
- `degraded`: what is kept in memory while the case store is unreachable. `web`: the webhook routes.
"""
