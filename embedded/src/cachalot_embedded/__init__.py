"""Embedded mode: one command runs the broker, every service and the sandbox."""
