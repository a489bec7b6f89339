"""The ``contact`` field: a Telegram username or a phone number in E.164.

A value starting with ``@`` is a Telegram username (``@`` and 5–32 ASCII
letters, digits or underscores, as Telegram allows). Anything else is parsed
as a phone number with ``phonenumbers`` and must be a valid number; it is
stored in E.164 (``+79161234567``) so the operator can dial or search it. A
number without ``+country`` needs ``CACHALOT_CONTACT_DEFAULT_REGION``.
"""

from __future__ import annotations

import re
from typing import Literal

import phonenumbers

ContactKind = Literal["telegram", "phone"]

TELEGRAM_USERNAME = re.compile(r"@[A-Za-z0-9_]{5,32}")


def normalise_contact(raw: str, *, region: str | None) -> tuple[str, ContactKind]:
    """The canonical contact and its kind, or ``ValueError`` saying what is wrong."""
    value = raw.strip()
    if not value:
        raise ValueError("give a Telegram @username or a phone number")
    if value.startswith("@"):
        if TELEGRAM_USERNAME.fullmatch(value) is None:
            raise ValueError(
                "a Telegram username is @ followed by 5-32 letters, digits or underscores"
            )
        return value, "telegram"
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as error:
        if error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise ValueError("phone number needs its country code, e.g. +7 916 123-45-67") from None
        raise ValueError("not a phone number or a Telegram @username") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), "phone"
