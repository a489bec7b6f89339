"""Every field of the form: what is accepted, how it is normalised, what is refused."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from cachalot_contact.schemas import CATEGORIES, ContactForm
from cachalot_contact.validation import normalise_contact

BASE = {
    "name": "Ada",
    "contact": "@ada_lovelace",
    "category": "other",
    "message": "hello",
}


def parse(region: str | None = None, **fields: object) -> ContactForm:
    body = {**BASE, **fields}
    return ContactForm.model_validate_json(json.dumps(body), context={"region": region})


def bad_fields(region: str | None = None, **fields: object) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        parse(region, **fields)
    return {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}


@pytest.mark.parametrize(
    ("typed", "region", "expected"),
    [
        ("+7 916 123-45-67", None, "+79161234567"),
        ("+44 20 7946 0958", None, "+442079460958"),
        ("+1 (650) 253-0000", None, "+16502530000"),
        ("8 (916) 123-45-67", "RU", "+79161234567"),
        ("(650) 253-0000", "US", "+16502530000"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(typed: str, region: str | None, expected: str):
    assert normalise_contact(typed, region=region) == (expected, "phone")


def test_phone_number_without_country_code_is_refused_without_a_default_region():
    with pytest.raises(ValueError, match="country code"):
        normalise_contact("8 916 123-45-67", region=None)


@pytest.mark.parametrize("typed", ["+7 123", "+1 000 000 0000", "not a phone", "12", "+"])
def test_invalid_phone_numbers_are_refused(typed: str):
    with pytest.raises(ValueError):
        normalise_contact(typed, region="RU")


@pytest.mark.parametrize("typed", ["@abcde", "@A_b_1_2", "@" + "x" * 32, "  @ada_lovelace "])
def test_telegram_usernames_of_5_to_32_word_characters_are_accepted(typed: str):
    assert normalise_contact(typed, region=None) == (typed.strip(), "telegram")


@pytest.mark.parametrize("typed", ["@abcd", "@" + "x" * 33, "@ada-lovelace", "@ада_ловелас", "@"])
def test_malformed_telegram_usernames_are_refused(typed: str):
    with pytest.raises(ValueError, match="Telegram username"):
        normalise_contact(typed, region=None)


def test_form_normalises_contact_and_knows_its_kind():
    form = parse(contact="+7 (916) 123 45 67")
    assert form.contact == "+79161234567"
    assert form.contact_kind == "phone"
    assert parse().contact_kind == "telegram"


def test_form_uses_the_default_region_from_the_context():
    assert parse("RU", contact="8 916 123 45 67").contact == "+79161234567"
    assert bad_fields(None, contact="8 916 123 45 67") == {"contact"}


def test_name_is_trimmed_and_must_be_1_to_100_characters():
    assert parse(name="  Ada  ").name == "Ada"
    assert parse(name="x" * 100).name == "x" * 100
    assert bad_fields(name="   ") == {"name"}
    assert bad_fields(name="") == {"name"}
    assert bad_fields(name="x" * 101) == {"name"}


def test_message_keeps_what_was_typed_and_must_be_1_to_4000_characters():
    typed = "  <b>hi</b> *there*\n😀 "
    assert parse(message=typed).message == typed
    assert parse(message="m" * 4000).message == "m" * 4000
    assert bad_fields(message="") == {"message"}
    assert bad_fields(message=" \n\t ") == {"message"}
    assert bad_fields(message="m" * 4001) == {"message"}


def test_category_is_one_of_the_fixed_slugs():
    for slug in CATEGORIES:
        assert parse(category=slug).category == slug
    assert bad_fields(category="Video production") == {"category"}


def test_wrong_types_are_refused_not_coerced():
    assert bad_fields(name=5, message=["x"], category=None, contact=79161234567) == {
        "name",
        "message",
        "category",
        "contact",
    }


def test_unknown_and_missing_fields_are_each_named():
    body = {"name": "Ada", "category": "other", "message": "hi", "phone": "+1"}
    with pytest.raises(ValidationError) as caught:
        ContactForm.model_validate_json(json.dumps(body))
    errors = {e["loc"][0]: e["type"] for e in caught.value.errors()}
    assert errors == {"contact": "missing", "phone": "extra_forbidden"}


def test_a_filled_honeypot_marks_a_bot():
    assert not parse().is_bot
    assert not parse(website="").is_bot
    assert parse(website="http://spam.example").is_bot


def test_openapi_schema_publishes_the_categories_as_an_enum():
    schema = ContactForm.model_json_schema()
    assert schema["properties"]["category"]["enum"] == list(CATEGORIES)
    assert schema["additionalProperties"] is False
