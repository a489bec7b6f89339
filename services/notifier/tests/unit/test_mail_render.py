"""The policy notice says what changed when the operator wrote it (issue 12 item 6)."""

from __future__ import annotations

import pytest

from cachalot_notifier.contacts import Language
from cachalot_notifier.mail_render import (
    ACCOUNT_REAUTH,
    POLICY_CHANGED,
    POST_FAILED,
    POST_UNCONFIRMED,
    compose,
    write,
)

DASHBOARD = "https://cachalot.test/"


def test_a_policy_notice_carries_the_operators_summary_in_both_languages_escaped() -> None:
    facts = {
        "policy_version": "2026-12",
        "policy_url": "https://cachalot.test/privacy.html",
        "policy_summary": "Addresses kept 30 days <not 90>.",
    }
    english = write(POLICY_CHANGED, facts, "en", dashboard_url=DASHBOARD)
    russian = write(POLICY_CHANGED, facts, "ru", dashboard_url=DASHBOARD)
    assert "What changed: Addresses kept 30 days <not 90>." in english.paragraphs
    assert "Что изменилось: Addresses kept 30 days <not 90>." in russian.paragraphs
    message = compose(
        english,
        language="en",
        sender="CACHALOT <noreply@cachalot.test>",
        recipient="ada@example.com",
        dedupe_key="policy:2026-12:x",
        unsubscribe_url=None,
    )
    html_part = message.get_body(("html",))
    assert html_part is not None
    assert "30 days &lt;not 90&gt;." in html_part.get_content()


def test_a_policy_notice_without_a_summary_reads_as_before() -> None:
    facts = {"policy_version": "2026-12", "policy_url": None, "policy_summary": None}
    written = write(POLICY_CHANGED, facts, "en", dashboard_url=DASHBOARD)
    assert not any(p.startswith("What changed") for p in written.paragraphs)
    assert written.link == ("Read the policy", DASHBOARD)


@pytest.mark.parametrize(
    ("language", "subject", "asks"),
    [
        ("en", "Please check your post on Telegram", ("mark it as published", "publish it again")),
        ("ru", "Проверьте публикацию в Telegram", ("как опубликованную", "опубликуйте её снова")),
    ],
)
def test_an_unconfirmed_post_is_worded_as_a_check_with_both_actions_never_as_a_failure(
    language: str, subject: str, asks: tuple[str, str]
) -> None:
    facts = {"platform": "telegram", "post_id": "p-1", "reason": "Check your channel."}
    written = write(POST_UNCONFIRMED, facts, language, dashboard_url=DASHBOARD)  # type: ignore[arg-type]
    text = " ".join([written.subject, *written.paragraphs])
    assert written.subject == subject
    assert all(ask in text for ask in asks)
    assert "Check your channel." in text
    for word in ("fail", "не удал", "повторных попыток не будет"):
        assert word not in text.lower()


def test_a_russian_failure_notice_words_a_known_reason_code_in_russian() -> None:
    facts = {
        "platform": "tiktok",
        "post_id": "p-1",
        "code": "spam_risk_too_many_posts",
        "reason": "TikTok: this account has reached its daily posting limit. Try again tomorrow.",
    }
    russian = write(POST_FAILED, facts, "ru", dashboard_url=DASHBOARD)
    assert "Причина: TikTok: аккаунт исчерпал дневной лимит публикаций. Попробуйте завтра." in (
        russian.paragraphs
    )
    assert not any("daily posting limit" in p for p in russian.paragraphs)
    english = write(POST_FAILED, facts, "en", dashboard_url=DASHBOARD)
    assert f"Reason: {facts['reason']}" in english.paragraphs


@pytest.mark.parametrize(
    ("kind", "language", "says"),
    [
        (POST_FAILED, "en", "Your post “Launch day” to @ann.films on TikTok failed"),
        (
            POST_FAILED,
            "ru",
            "Ваша публикация «Launch day» в аккаунт @ann.films (TikTok) не удалась",
        ),
        (POST_UNCONFIRMED, "en", "whether your post “Launch day” to @ann.films on TikTok went out"),
        (POST_UNCONFIRMED, "ru", "вышла ли ваша публикация «Launch day» в аккаунт @ann.films"),
    ],
)
def test_a_post_notice_names_the_account_and_the_posts_first_words_not_only_its_id(
    kind: str, language: Language, says: str
) -> None:
    """fresh12: the e-mail said "Post <uuid> to TikTok"; a client with two TikTok accounts
    could not tell which post or where. The id stays, for support."""
    facts = {
        "platform": "tiktok",
        "post_id": "p-9",
        "reason": "As sent.",
        "account_name": "@ann.films",
        "text_start": "Launch day",
    }
    written = write(kind, facts, language, dashboard_url=DASHBOARD)
    text = " ".join(written.paragraphs)
    assert says in text
    assert "p-9" in text


def test_a_post_notice_without_the_account_or_words_names_the_platform_alone() -> None:
    """Events from a queue older than the names (or a post with no words) read as before."""
    written = write(
        POST_FAILED, {"platform": "vk", "post_id": "p-3"}, "en", dashboard_url=DASHBOARD
    )
    assert written.paragraphs[0] == "Your post to VK failed and will not be tried again (post p-3)."


def test_a_reason_code_the_notifier_does_not_know_keeps_the_platforms_text() -> None:
    facts = {"platform": "youtube", "post_id": "p-2", "code": "brand_new", "reason": "As sent."}
    russian = write(POST_FAILED, facts, "ru", dashboard_url=DASHBOARD)
    assert "Причина: As sent." in russian.paragraphs


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "Reason: your sign-in with TikTok expired or was withdrawn"),
        ("ru", "Причина: ваш вход через TikTok истёк или был отозван"),
    ],
)
def test_the_reconnect_notice_says_what_invalid_grant_means_instead_of_naming_it(
    language: Language, words: str
) -> None:
    facts = {
        "platform": "tiktok",
        "display_name": "Ada",
        "code": "invalid_grant",
        "reason": "tiktok no longer accepts our access (invalid_grant); sign in again to reconnect",
    }
    written = write(ACCOUNT_REAUTH, facts, language, dashboard_url=DASHBOARD)
    assert any(p.startswith(words) for p in written.paragraphs), written.paragraphs
    assert not any("invalid_grant" in p for p in written.paragraphs)
