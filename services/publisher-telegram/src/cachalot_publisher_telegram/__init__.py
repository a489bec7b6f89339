"""publisher-telegram: queued posts → the client's linked Telegram channel, at most once."""
