"""CACHALOT_LOG_LEVEL holds for FastStream's own lines too (issue 9: CPU per post).

FastStream sets its ``faststream`` logger to INFO when imported, so every
consumed message logged "Received" and "Processed" even with the level at
WARNING: in ``bench/pipeline.py`` about a tenth of the notifier's CPU, plus the
lines the embedded supervisor then read and wrote.
"""

from __future__ import annotations

import logging

import faststream  # noqa: F401 - its import sets its logger's level

from cachalot_common.kafka import build_broker
from cachalot_common.logging import setup_logging
from cachalot_common.settings import KafkaSettings


def test_a_brokers_per_message_lines_are_not_emitted_when_the_level_is_warning() -> None:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        setup_logging("notifier", level="WARNING", fmt="text")
        build_broker(KafkaSettings(), client_id="notifier")
        service_logger = logging.getLogger("faststream.notifier")
        assert not service_logger.isEnabledFor(logging.INFO)
        assert service_logger.isEnabledFor(logging.WARNING)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]


def test_a_brokers_per_message_lines_are_kept_at_the_default_info_level() -> None:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        setup_logging("notifier", level="INFO", fmt="text")
        build_broker(KafkaSettings(), client_id="notifier")
        assert logging.getLogger("faststream.notifier").isEnabledFor(logging.INFO)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
