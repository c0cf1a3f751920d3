"""Shared plumbing below every layer: exact JSON, the small WSGI helpers and the HTTP server
thread. The bot's layers (bot, handlers, services, storage) and both stand-ins (the Xoxoday
simulator, the Slack fake) may import it; it imports none of them (the import contract in
.importlinter checks both)."""
