"""What the operator reads for each event, as spans (see :mod:`formatting`).

Everything that came from outside (a submitter's name and message, a
platform's error text) is passed through :func:`formatting.visible` and never
interpreted; the submitter's message is the part cut when the whole would
exceed Telegram's limit, after the footer (id, time, IP), which is dropped
first so a 4000-character message usually arrives whole. The footer also
keeps Telegram's trimming of trailing whitespace away from typed text.
"""

from __future__ import annotations

from datetime import datetime

from cachalot_common.events import (
    AccountChanged,
    ContactSubmitted,
    NotifyRequested,
    PostStatusChanged,
    ProposalAnswered,
)
from cachalot_common.platforms import label_of
from cachalot_common.text import truncate
from cachalot_notifier.formatting import Span, Style, fit, visible

CATEGORY_LABELS = {
    "video_production": "Video production",
    "seo_articles": "SEO articles",
    "auto_posting": "Auto-posting",
    "other": "Other",
}
# Fields other than the message are short by contract; cap them anyway so a
# misbehaving producer cannot crowd the message out. UTF-16 units, Telegram's unit.
_FIELD_CAP = 300


def _field(value: str | None) -> str:
    """A short field as shown, cut between whole characters to ``_FIELD_CAP`` UTF-16 units."""
    return truncate(visible(value or "—"), _FIELD_CAP, count="utf16")


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _line(label: str, value: str | None, style: Style = "plain") -> list[Span]:
    return [Span(f"{label}: ", "bold"), Span(_field(value), style), Span("\n")]


def contact_submitted(event: ContactSubmitted) -> list[Span]:
    """A new lead: who, how to reach them, what about, and their message as typed."""
    category = CATEGORY_LABELS.get(event.category, event.category)
    spans = [
        Span("New contact request\n", "bold"),
        *_line("Name", event.name),
        *_line("Contact", event.contact, "code"),
        *_line("Category", category),
        Span("\n"),
        Span(visible(event.message), truncatable=True),
        Span("\n\n", optional=True),
        Span(f"Submission {event.event_id} · {_when(event.occurred_at)}", "italic", optional=True),
    ]
    if event.ip:
        spans.append(Span(f" · IP {_field(event.ip)}", "italic", optional=True))
    return fit(spans)


def _client(name: str, client_id: object) -> list[Span]:
    """The client as a person knows it (``contacts.client_name``; a client wrote it, so shown
    through :func:`visible`), then its id to search by."""
    return [*_line("Client", name), *_line("Client id", str(client_id), "code")]


def _which(event: PostStatusChanged) -> list[Span]:
    """The account's name and the post's first words, when the event carries them (shown
    through :func:`visible`: a client wrote them)."""
    return [
        *(_line("Account name", event.account_name) if event.account_name else []),
        *(_line("Text", event.text_start) if event.text_start else []),
    ]


def post_failed(
    event: PostStatusChanged, *, client: str, trace_url: str | None = None
) -> list[Span]:
    """A target failed for good: which post, where, the reason a person can act on and,
    with ``trace_url``, the link to the post's trace in the tracing UI."""
    spans = [
        Span(f"Post failed on {label_of(event.platform)}\n", "bold"),
        *_which(event),
        *_line("Post", str(event.post_id), "code"),
        *_line("Target", str(event.target_id), "code"),
        *_client(client, event.client_id),
        *_line("Account", str(event.account_id), "code"),
        *(_line("Attempts", str(event.attempt)) if event.attempt is not None else []),
        Span("Reason: ", "bold"),
        Span(visible(event.reason or "not given"), truncatable=True),
        Span("\n"),
        *(_line("Trace", trace_url) if trace_url else []),
        Span("\n"),
        Span(f"Event {event.event_id} · {_when(event.occurred_at)}", "italic"),
    ]
    return fit(spans)


def post_unconfirmed(
    event: PostStatusChanged, *, client: str, trace_url: str | None = None
) -> list[Span]:
    """We could not confirm whether a post went out (issue 10): the client is asked to check
    and settle it in the dashboard. Not worded as a failure: it may well be published."""
    spans = [
        Span(f"Please check: a post on {label_of(event.platform)} is unconfirmed\n", "bold"),
        *_which(event),
        *_line("Post", str(event.post_id), "code"),
        *_line("Target", str(event.target_id), "code"),
        *_client(client, event.client_id),
        *_line("Account", str(event.account_id), "code"),
        Span("Why: ", "bold"),
        Span(visible(event.reason or "not given"), truncatable=True),
        Span("\n"),
        Span(
            "The client is asked to look, then mark it published or publish it again; "
            "nothing is sent again by itself.\n"
        ),
        *(_line("Trace", trace_url) if trace_url else []),
        Span("\n"),
        Span(f"Event {event.event_id} · {_when(event.occurred_at)}", "italic"),
    ]
    return fit(spans)


def account_reauth_required(event: AccountChanged, *, client: str) -> list[Span]:
    """An account's token is dead: its posts are paused until the client reconnects.

    With ``code`` ``channel_link_broken`` (type ``needs_channel``, or ``reauth_required`` from
    older auth) the sign-in is fine: our bot cannot post in the
    account's Telegram channel, and its posts wait until the client fixes that.
    """
    if event.code == "channel_link_broken":
        return fit(
            [
                Span(f"{label_of(event.platform)} channel cannot be posted to\n", "bold"),
                *_line("Account", event.display_name or str(event.account_id)),
                *_line("Account id", str(event.account_id), "code"),
                *_client(client, event.client_id),
                Span("Reason: ", "bold"),
                Span(visible(event.reason or "not given"), truncatable=True),
                Span("\n"),
                Span(
                    "Its posts wait until the client makes our bot an administrator of the "
                    "channel and links it again; no re-authorisation is needed.\n\n"
                ),
                Span(f"Event {event.event_id} · {_when(event.occurred_at)}", "italic"),
            ]
        )
    spans = [
        Span(f"{label_of(event.platform)} account needs re-authorisation\n", "bold"),
        *_line("Account", event.display_name or str(event.account_id)),
        *_line("Account id", str(event.account_id), "code"),
        *_client(client, event.client_id),
        Span("Reason: ", "bold"),
        Span(visible(event.reason or "not given"), truncatable=True),
        Span("\n"),
        Span("Its posts are paused until the client reconnects it.\n\n"),
        Span(f"Event {event.event_id} · {_when(event.occurred_at)}", "italic"),
    ]
    return fit(spans)


def notify_requested(event: NotifyRequested) -> list[Span]:
    """A free-form operator message from another service."""
    spans: list[Span] = []
    if event.subject:
        spans.append(Span(_field(event.subject) + "\n", "bold"))
    spans += [
        Span(visible(event.text), truncatable=True),
        Span("\n\n"),
        Span(f"Event {event.event_id} · {_when(event.occurred_at)}", "italic"),
    ]
    return fit(spans)


def proposal_answered(
    event: ProposalAnswered, *, client: str, trace_url: str | None = None
) -> list[Span]:
    """A client (``client``: its name, ``contacts.client_name``) approved an operator's
    proposal (the post, when and where it posts, and with ``trace_url`` the link to the
    trace the approval queued the post in) or asked for changes (its comment as typed, the
    part cut if the whole is too long)."""
    ids = [
        *_line("Client id", str(event.client_id), "code"),
        *_line("Delivery", str(event.delivery_id), "code"),
    ]
    footer = Span(f"Event {event.event_id} · {_when(event.occurred_at)}", "italic")
    if event.answer == "approved":
        at = _when(event.scheduled_at) if event.scheduled_at else "now"
        spans = [
            Span("Proposal approved\n", "bold"),
            Span(_field(client)),
            Span(f" approved proposal {event.proposal_id}: "),
            Span(f"post {event.post_id} is queued for {at} on "),
            Span(_field(", ".join(label_of(p) for p in event.platforms) or "—") + ".\n"),
            *ids,
            *(_line("Trace", trace_url) if trace_url else []),
            Span("\n"),
            footer,
        ]
        return fit(spans)
    spans = [
        Span("Changes requested\n", "bold"),
        Span(_field(client)),
        Span(f" asks for changes to proposal {event.proposal_id}:\n"),
        Span(visible(event.comment or "—"), truncatable=True),
        Span("\n\n"),
        *ids,
        footer,
    ]
    return fit(spans)
