"""The publisher's exceptions pass through context managers as themselves.

Found in the clean-clone CI run of 2026-12-01: ``OutcomeUnknown`` was a frozen dataclass, and a
``@contextmanager`` it passes through (``ChatWaits.guard``, async since) sets ``__traceback__``
on it, which a frozen dataclass refuses: the runtime got a ``FrozenInstanceError``
("unexpected", retryable) instead of the unknown outcome, so a lost answer ended
``unconfirmed`` one attempt late.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from cachalot_common.telegram_api import ChatWaits
from cachalot_publisher_telegram.telegram import NotSent, OutcomeUnknown
from cachalot_publisher_telegram.telegraph import TelegraphError
from cachalot_publishing import outcome


@contextlib.contextmanager
def passing() -> Iterator[None]:
    yield


@pytest.mark.parametrize(
    "error",
    [
        OutcomeUnknown("HTTP 504 without a Bot API answer"),
        NotSent("connection refused"),
        outcome.unknown("Telegram", "channel"),
    ],
    ids=["OutcomeUnknown", "NotSent", "Outcome"],
)
async def test_an_error_raised_through_a_context_manager_comes_out_as_itself(
    error: Exception,
) -> None:
    with pytest.raises(type(error)) as raised, passing():
        raise error
    assert raised.value is error
    with pytest.raises(type(error)) as raised_async:
        async with ChatWaits().guard("sendVideo", -100123):
            raise error
    assert raised_async.value is error


def test_a_telegraph_error_comes_out_of_a_context_manager_as_itself() -> None:
    error = TelegraphError.__new__(TelegraphError)
    with pytest.raises(TelegraphError), passing():
        raise error
