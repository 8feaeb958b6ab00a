"""The contact center: shared case store, web app, channels and CLI."""
