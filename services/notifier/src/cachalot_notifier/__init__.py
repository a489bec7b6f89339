"""cachalot-notifier: Telegram messages to the operator (and, later, email to clients)."""
