"""What the contact form accepts and what it answers.

The phone region comes from settings through pydantic's validation context
(``{"region": "RU"}``), so the model holds no global state.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from cachalot_common.json_size import round_up_kib, worst_case_json_bytes
from cachalot_contact.validation import ContactKind, normalise_contact

Category = Literal["video_production", "seo_articles", "auto_posting", "other"]
CATEGORIES: Final[tuple[str, ...]] = ("video_production", "seo_articles", "auto_posting", "other")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class ContactForm(BaseModel):
    """The public contact form."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: Name = Field(description="Who is writing; 1-100 characters after trimming.")
    contact: str = Field(
        max_length=64,
        description=(
            "Telegram @username (5-32 letters, digits, underscores) or a phone number; "
            "phone numbers are normalised to E.164."
        ),
        examples=["@cachalot_fan", "+79161234567"],
    )
    category: Category = Field(description="What the request is about.")
    message: str = Field(min_length=1, max_length=4000, description="The message, as typed.")
    website: str = Field(
        default="",
        max_length=200,
        description="Leave empty. (A field people never see; bots fill it in.)",
    )

    @field_validator("contact")
    @classmethod
    def _normalise_contact(cls, value: str, info: ValidationInfo) -> str:
        region = (info.context or {}).get("region")
        return normalise_contact(value, region=region)[0]

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the message is empty")
        return value

    @property
    def contact_kind(self) -> ContactKind:
        return "telegram" if self.contact.startswith("@") else "phone"

    @property
    def is_bot(self) -> bool:
        """The honeypot was filled in: a bot, to be dropped without a trace."""
        return bool(self.website.strip())


FORM_SCHEMA: Final = ContactForm.model_json_schema()
# The byte cap: the largest body a valid form can be, every character
# escaped as JSON allows (cachalot_common.json_size). The character limits
# above are what a person meets (422 naming the field); this only stops
# bodies no valid form needs (413).
MAX_BODY_BYTES: Final = round_up_kib(worst_case_json_bytes(FORM_SCHEMA, FORM_SCHEMA) or 0)


class Accepted(BaseModel):
    """The answer to a submission: it is stored, and will reach the operator."""

    id: UUID = Field(description="Submission id (also the event id on contact.submitted.v1).")
    status: Literal["accepted"] = "accepted"
