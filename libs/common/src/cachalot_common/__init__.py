"""Shared building blocks of CACHALOT services.

Small on purpose: settings, events and topics, Kafka wiring, telemetry, logging,
HTTP problem details, health, service-to-service credentials, sessions and the
token key ring. A lib never runs; services import it, never each other.
"""
