"""Interactive voice response: flows in YAML, a pure interpreter and TwiML rendering."""
