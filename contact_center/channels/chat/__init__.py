"""The web chat channel: a customer's chat is a contact on a case, routed like any other task.

- `models`: the chat sessions and their numbered messages. `waiting`: the pure estimate of a customer's wait.
- `service`: every change to a chat (start, post, accept, close), each publishing to the live pages.
- `web`: the chat page and the customer's WebSocket (the embeddable widget in `static/chat-widget.js` talks to it).
"""
