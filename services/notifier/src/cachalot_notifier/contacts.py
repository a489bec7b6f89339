"""Where a client's e-mail address and language come from: auth, asked at send time.

Why a lookup and not an event carrying the address: auth holds the one copy
of it. A client who changes the address is written to at the new one, and a
client who erased their data is not written to at all (auth answers 404 and
the notice is skipped), at once and on every replica; an address put in a
Kafka event would stay in the topic's retention and its DLQ, where erasure
cannot reach it, and clients who gave their address before this service
existed would never be known. The address crosses one internal HTTP answer
(in its body: the URL names only the client id, so access logs and httpx
spans never hold it), lives in memory while one mail is sent, and is never
logged: errors here say the client id only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx
from pydantic import SecretStr

from cachalot_common.service_auth import mint_service_token

Language = Literal["en", "ru"]


@dataclass(frozen=True)
class Contact:
    """What a mail to one client needs. ``email`` None: the client gave none.

    ``label``: how the operator knows the client (its e-mail, else its first account's
    name: auth's ``client_label``, the words the operator console shows); None from an
    auth that does not say.
    """

    email: str | None
    language: Language = "en"
    label: str | None = None

    def __repr__(self) -> str:  # never print the address (nor the label, often the address)
        return f"Contact(email={'<set>' if self.email else None}, language={self.language!r})"


class ContactUnavailable(Exception):
    """Auth did not answer (network, 5xx, 401): the mail waits and is tried again."""


class ContactBook(Protocol):
    async def lookup(self, client_id: uuid.UUID) -> Contact | None:
        """The client's contact; None when the client no longer exists.

        Raises :class:`ContactUnavailable` when the answer cannot be had now.
        """
        ...


class AuthContactBook:
    """``GET {auth}/internal/v1/clients/{id}/contact`` with a single-use service JWT."""

    def __init__(
        self, http: httpx.AsyncClient, *, auth_url: str, service: str, secret: SecretStr
    ) -> None:
        self._http = http
        self._base = auth_url.rstrip("/")
        self._service = service
        self._secret = secret

    async def lookup(self, client_id: uuid.UUID) -> Contact | None:
        token = mint_service_token(service=self._service, secret=self._secret.get_secret_value())
        try:
            response = await self._http.get(
                f"{self._base}/internal/v1/clients/{client_id}/contact",
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as error:
            raise ContactUnavailable(f"auth unreachable ({type(error).__name__})") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ContactUnavailable(f"auth answered {response.status_code} for the contact")
        try:
            body = response.json()
            email = body.get("email")
            language = body.get("language")
            label = body.get("label")
        except (ValueError, AttributeError):
            raise ContactUnavailable("auth's contact answer is not the expected JSON") from None
        return Contact(
            email=email if isinstance(email, str) and email else None,
            language="ru" if language == "ru" else "en",
            label=label if isinstance(label, str) and label else None,
        )


UNNAMED = "a client auth could not name just now"
"""A client's name in an operator message when auth did not answer (its id is given beside)."""
ERASED = "a client who has since erased their data"


async def client_name(book: ContactBook | None, client_id: uuid.UUID) -> str:
    """How the operator's messages name ``client_id``: auth's label (the words the operator
    console shows: e-mail, else the first account's name), never the id.

    ``book`` None (no ``CACHALOT_SERVICE_SECRET``) or auth unreachable: :data:`UNNAMED`
    (the message is not held back for a name; its ``Client id`` line says which);
    an erased client: :data:`ERASED`.
    """
    if book is None:
        return UNNAMED
    try:
        contact = await book.lookup(client_id)
    except ContactUnavailable:
        return UNNAMED
    if contact is None:
        return ERASED
    return contact.label or UNNAMED
