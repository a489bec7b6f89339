"""CACHALOT contact: the public contact form, its append-only log and the relay to Kafka."""
