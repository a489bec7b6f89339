"""What a client reads: each notice in English and Russian, as plain text and HTML.

A notice is written from its ``facts`` (the JSON recorded with the row) in
the client's language (auth's, English when unknown). The mail carries no
token, grant or secret: it names the platform, the account, the post and the
reason, and links to the dashboard. Notices other than the policy one carry
the one-click unsubscribe link (RFC 8058: ``List-Unsubscribe`` with an HTTPS
URI and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``); the policy
notice always goes, so it has none. Text from outside (a platform's reason,
an account's name) is escaped in the HTML part, never interpreted.

The ``Message-ID`` is derived from the notice's unique key, so a mail sent
again after a crash between the server's 250 and the record of it carries
the same id and a receiving system can tell it is the same mail.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

from cachalot_common.platforms import label_of
from cachalot_notifier.contacts import Language

POST_FAILED = "post_failed"
ACCOUNT_REAUTH = "account_reauth"
ACCOUNT_CHANNEL = "account_channel"
"""A Telegram account's channel cannot be posted to any more: link it again (no sign-in)."""
POLICY_CHANGED = "policy_changed"
POST_UNCONFIRMED = "post_unconfirmed"
"""We could not confirm whether a post went out (issue 10): please check; not a failure."""
KINDS = (POST_FAILED, POST_UNCONFIRMED, ACCOUNT_REAUTH, ACCOUNT_CHANNEL, POLICY_CHANGED)
ALWAYS_SENT = frozenset({POLICY_CHANGED})
"""Notices a client cannot switch off (the policy promises them)."""


@dataclass(frozen=True)
class Written:
    subject: str
    paragraphs: list[str]
    link: tuple[str, str] | None = None  # (label, url)


def _platform(facts: dict[str, Any]) -> str:
    try:
        return str(label_of(facts.get("platform", "")))
    except (KeyError, ValueError):
        return str(facts.get("platform") or "")


REASON_WORDS: dict[str, tuple[str, str]] = {
    # the shared codes (cachalot_publishing.outcome)
    "network": (
        "{platform} did not answer us.",
        "{platform} не ответил нам.",
    ),
    "platform_unavailable": (
        "{platform} was unavailable.",
        "{platform} был недоступен.",
    ),
    "rate_limited": (
        "{platform} asked us to slow down (too many requests).",
        "{platform} попросил нас отправлять реже (слишком много запросов).",
    ),
    "processing_timeout": (
        "{platform} did not finish processing the video in time.",
        "{platform} не успел обработать видео.",
    ),
    "reauth_required": (
        "{platform} no longer accepts our access to the account: reconnect it.",
        "{platform} больше не принимает наш доступ к аккаунту: подключите его заново.",
    ),
    "consent_required": (
        "Confirm that you are 18 or over and give your e-mail address in the dashboard.",
        "Подтвердите в панели, что вам есть 18 лет, и укажите адрес электронной почты.",
    ),
    "media_missing": (
        "The video file is no longer stored with us: upload it again.",
        "Файла видео у нас больше нет: загрузите его снова.",
    ),
    "media_changed": (
        "The video file changed after it was queued: upload it again.",
        "Файл видео изменился после постановки в очередь: загрузите его снова.",
    ),
    "internal_error": (
        "Something went wrong on our side; our team has been told.",
        "Что-то сломалось на нашей стороне; наша команда уже знает об этом.",
    ),
    # a platform's own codes (services/publisher-<platform>/reasons.py)
    "spam_risk_too_many_posts": (
        "{platform}: this account has reached its daily posting limit. Try again tomorrow.",
        "{platform}: аккаунт исчерпал дневной лимит публикаций. Попробуйте завтра.",
    ),
    "spam_risk_user_banned_from_posting": (
        "{platform}: this account is currently banned from posting. Check the account in the "
        "{platform} app.",
        "{platform}: этому аккаунту сейчас запрещено публиковать. Проверьте аккаунт в "
        "приложении {platform}.",
    ),
    "reached_active_user_cap": (
        "{platform}: the app has reached its daily cap of posting users. Try again tomorrow.",
        "{platform}: приложение исчерпало дневной лимит публикующих пользователей. "
        "Попробуйте завтра.",
    ),
    "duration_check_failed": (
        "{platform} rejected the video's length for this account. Trim the video and queue it "
        "again.",
        "{platform} не принял длину видео для этого аккаунта. Обрежьте видео и поставьте его в "
        "очередь снова.",
    ),
    "quota_exceeded": (
        "{platform}'s daily quota for our app is used up. Try again tomorrow.",
        "Дневная квота {platform} для нашего приложения исчерпана. Попробуйте завтра.",
    ),
    # OAuth's refusal of a refresh (RFC 6749 §5.2), sent by auth with reauth_required
    "invalid_grant": (
        "your sign-in with {platform} expired or was withdrawn (for example in {platform}'s "
        "settings). Sign in with {platform} again to reconnect it.",
        "ваш вход через {platform} истёк или был отозван (например, в настройках {platform}). "
        "Войдите через {platform} снова, чтобы подключить аккаунт.",
    ),
}
"""A result's or an account event's ``code`` in words, (English, Russian) with ``{platform}``
the platform's label. A code not listed keeps the platform's own text (``reason``)."""


def _reason(facts: dict[str, Any], ru: bool, platform: str) -> str:
    """The reason in the client's language: its ``code``'s words, else the text as sent."""
    words = REASON_WORDS.get(str(facts.get("code") or ""))
    if words is not None:
        return words[1 if ru else 0].format(platform=platform)
    return str(facts.get("reason") or ("причина не указана" if ru else "no reason given"))


def _which_post(facts: dict[str, Any], ru: bool, platform: str) -> str:
    """ "your post “<its first words>” to <account> on <platform>", each part when known
    (``text_start``, ``account_name``: the queue's status event), lower case first."""
    text = str(facts.get("text_start") or "")
    account = str(facts.get("account_name") or "")
    if ru:
        words = "ваша публикация" + (f" «{text}»" if text else "")
        return words + (f" в аккаунт {account} ({platform})" if account else f" в {platform}")
    words = "your post" + (f" “{text}”" if text else "")
    return words + (f" to {account} on {platform}" if account else f" to {platform}")


def write(kind: str, facts: dict[str, Any], language: Language, *, dashboard_url: str) -> Written:
    """The subject and paragraphs of one notice; raises ``KeyError`` for an unknown kind.
    ``facts``: the notice's JSON (``platform``, ``reason``, ``code``, ``post_id``,
    ``account_name``, ``text_start``, ``display_name``, ``policy_*``); a known ``code`` is
    worded from :data:`REASON_WORDS`."""
    ru = language == "ru"
    platform = _platform(facts)
    reason = _reason(facts, ru, platform)
    if kind == POST_FAILED:
        post = str(facts.get("post_id", ""))
        which = _which_post(facts, ru, platform)
        if ru:
            return Written(
                f"Публикация в {platform} не удалась",
                [
                    f"{which[0].upper()}{which[1:]} не удалась, и повторных попыток не будет "
                    f"(публикация {post}).",
                    f"Причина: {reason}",
                    "Откройте панель, чтобы исправить публикацию и поставить её в очередь снова.",
                ],
                ("Открыть панель", dashboard_url),
            )
        return Written(
            f"Your post to {platform} failed",
            [
                f"{which[0].upper()}{which[1:]} failed and will not be tried again (post {post}).",
                f"Reason: {reason}",
                "Open the dashboard to fix the post and queue it again.",
            ],
            ("Open the dashboard", dashboard_url),
        )
    if kind == POST_UNCONFIRMED:
        post = str(facts.get("post_id", ""))
        which = _which_post(facts, ru, platform)
        if ru:
            return Written(
                f"Проверьте публикацию в {platform}",
                [
                    f"Мы не смогли подтвердить, вышла ли {which} (публикация {post}): "
                    f"ответ {platform} на наш запрос потерялся, а найти публикацию задним "
                    "числом нельзя.",
                    f"Подробности: {reason}",
                    "Посмотрите канал или аккаунт. Если публикация там есть, отметьте её в "
                    "панели как опубликованную (можно со ссылкой); если нет, опубликуйте её "
                    "снова. Сами мы её повторно не отправим, чтобы не вышло двух публикаций.",
                ],
                ("Открыть панель", dashboard_url),
            )
        return Written(
            f"Please check your post on {platform}",
            [
                f"We could not confirm whether {which} went out (post {post}): "
                f"{platform}'s answer to our request was lost, and there is no way to look the "
                "post up afterwards.",
                f"Details: {reason}",
                "Please look at your channel or account. If the post is there, mark it as "
                "published in the dashboard (a link is optional); if it is not, publish it "
                "again. We will not send it again by ourselves, so it cannot appear twice.",
            ],
            ("Open the dashboard", dashboard_url),
        )
    if kind == ACCOUNT_REAUTH:
        name = str(facts.get("display_name") or facts.get("account_id") or "")
        if ru:
            return Written(
                f"Подключите аккаунт {platform} заново",
                [
                    f"Аккаунт {platform} «{name}» нужно подключить заново: {platform} больше "
                    "не принимает наш доступ.",
                    f"Причина: {reason}",
                    "Публикации в этот аккаунт ждут, пока вы не подключите его снова.",
                ],
                ("Подключить снова", dashboard_url),
            )
        return Written(
            f"Reconnect your {platform} account",
            [
                f"Your {platform} account “{name}” needs to be connected again: {platform} "
                "no longer accepts our access.",
                f"Reason: {reason}",
                "Posts to this account wait until you reconnect it.",
            ],
            ("Reconnect", dashboard_url),
        )
    if kind == ACCOUNT_CHANNEL:
        name = str(facts.get("display_name") or facts.get("account_id") or "")
        if ru:
            return Written(
                f"Привяжите канал {platform} заново",
                [
                    f"Наш бот больше не может публиковать в канал, привязанный к аккаунту "
                    f"{platform} «{name}». Входить заново не нужно.",
                    f"Что сделать: {reason}",
                    "Публикации в этот канал ждут, пока вы не привяжете канал снова.",
                ],
                ("Привязать канал", dashboard_url),
            )
        return Written(
            f"Link your {platform} channel again",
            [
                f"Our bot can no longer post in the channel linked to your {platform} account "
                f"“{name}”. There is no need to sign in again.",
                f"What to do: {reason}",
                "Posts to this channel wait until you link the channel again.",
            ],
            ("Link a channel", dashboard_url),
        )
    if kind == POLICY_CHANGED:
        version = str(facts.get("policy_version", ""))
        url = str(facts.get("policy_url") or dashboard_url)
        summary = str(facts.get("policy_summary") or "")
        if ru:
            return Written(
                f"Политика конфиденциальности изменилась (версия {version})",
                [
                    f"Мы опубликовали новую версию политики конфиденциальности: {version}.",
                    *([f"Что изменилось: {summary}"] if summary else []),
                    "Мы пишем каждому клиенту с подключённым аккаунтом, как обещает политика. "
                    "Это письмо приходит, даже если уведомления выключены.",
                ],
                ("Прочитать политику", url),
            )
        return Written(
            f"Our privacy policy changed (version {version})",
            [
                f"We published a new version of our privacy policy: {version}.",
                *([f"What changed: {summary}"] if summary else []),
                "We write to every client with a connected account, as the policy promises. "
                "This e-mail is sent even when notices are switched off.",
            ],
            ("Read the policy", url),
        )
    raise KeyError(kind)


def _footer(language: Language, unsubscribe_url: str | None) -> tuple[str, str]:
    if unsubscribe_url is None:
        return "", ""
    if language == "ru":
        words, label = "Не хотите получать такие письма?", "Отписаться одним нажатием"
    else:
        words, label = "Don't want these e-mails?", "Switch notices off with one click"
    return (
        f"{words} {label}: {unsubscribe_url}",
        f'{words} <a href="{html.escape(unsubscribe_url)}">{label}</a>',
    )


def message_id(dedupe_key: str, sender: str) -> str:
    """A Message-ID (RFC 5322 §3.6.4) derived from the notice's key and the From domain."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "cachalot.invalid"
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]
    return f"<notice.{digest}@{domain}>"


def compose(
    written: Written,
    *,
    language: Language,
    sender: str,
    recipient: str,
    dedupe_key: str,
    unsubscribe_url: str | None,
) -> EmailMessage:
    """The MIME message: ``multipart/alternative`` of text/plain and text/html (RFC 2046)."""
    text_footer, html_footer = _footer(language, unsubscribe_url)
    lines = [*written.paragraphs]
    if written.link:
        lines.append(f"{written.link[0]}: {written.link[1]}")
    if text_footer:
        lines += ["--", text_footer]
    body_html = "".join(f"<p>{html.escape(p)}</p>\n" for p in written.paragraphs)
    if written.link:
        label, url = written.link
        body_html += f'<p><a href="{html.escape(url)}">{html.escape(label)}</a></p>\n'
    if html_footer:
        body_html += f'<hr>\n<p style="font-size:small;color:#555">{html_footer}</p>\n'
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = written.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(dedupe_key, sender)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    if unsubscribe_url is not None:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content("\n\n".join(lines) + "\n")
    message.add_alternative(
        f'<!doctype html>\n<html lang="{language}"><head><meta charset="utf-8">'
        f"<title>{html.escape(written.subject)}</title></head>\n<body>\n{body_html}</body></html>\n",
        subtype="html",
    )
    message["Content-Language"] = language  # after the parts: set_content clears Content-*
    return message
