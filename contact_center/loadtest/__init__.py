"""The load benchmark (`contact-center bench load`): real traffic at a fixed arrival rate against `serve --workers`.

`cli` starts the servers and reports; `traffic` drives webhooks, chats and API calls and times them; `agents`
plays agents on the desktop WebSocket; `ceiling` is the trivial server that shows the machine's own limit;
`audit` checks the case store afterwards (nothing lost, nothing assigned twice).
"""
