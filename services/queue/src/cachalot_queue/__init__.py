"""CACHALOT post queue: media store, posts API, scheduler, outbox relay, results."""
