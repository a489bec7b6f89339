"""Telegram's text formatting, as the sandbox's Bot API parses it.

The parsers live in :mod:`cachalot_common.telegram_entities` so that the
queue's check of a caption at queue time (``cachalot_common.platforms.telegram``)
and this fake Bot API refuse exactly the same texts.
"""

from cachalot_common.telegram_entities import (
    HTML_TAGS,
    MARKDOWN_V2_RESERVED,
    PARSERS,
    EntityParseError,
    ParsedText,
    parse_html,
    parse_markdown,
    parse_markdown_v2,
    parse_text,
    utf16_len,
)

__all__ = [
    "HTML_TAGS",
    "MARKDOWN_V2_RESERVED",
    "PARSERS",
    "EntityParseError",
    "ParsedText",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "parse_text",
    "utf16_len",
]
