"""Channel adapters: the edges where contacts arrive and messages leave (Twilio, email, chat)."""
