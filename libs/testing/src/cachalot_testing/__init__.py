"""Test fixtures for CACHALOT: real broker, real PostgreSQL, real service processes."""
