"""Session cookies: signature, expiry and the revocations of ``sessions.v1``, checked alike."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from cachalot_common.events import SessionEnded
from cachalot_common.problems import install_problem_handlers
from cachalot_common.sessions import (
    COOKIE_NAME,
    WRONG_ROLE,
    CurrentClient,
    CurrentOperator,
    MemoryRevocations,
    Session,
    SessionError,
    SessionRevoked,
    SessionVerifier,
    install_session_verifier,
    issue_session,
    read_session,
)

SECRET = "s" * 32


def test_a_session_carries_when_it_was_issued() -> None:
    token, issued = issue_session(client_id=uuid.uuid4(), secret=SECRET, lifetime_s=60)
    read = read_session(token, secret=SECRET)
    assert read == issued
    assert abs(read.issued_at - time.time()) < 5


def test_a_revoked_session_is_refused_and_another_of_the_same_client_is_not() -> None:
    revocations = MemoryRevocations()
    verifier = SessionVerifier(secret=SECRET, revocations=revocations)
    client_id = uuid.uuid4()
    ended, ended_session = issue_session(client_id=client_id, secret=SECRET, lifetime_s=60)
    kept, _ = issue_session(client_id=client_id, secret=SECRET, lifetime_s=60)
    revocations.revoke_session(ended_session.session_id, expires_at=ended_session.expires_at)
    with pytest.raises(SessionRevoked):
        verifier.verify(ended)
    assert verifier.verify(kept).client_id == client_id


def test_a_client_cut_ends_every_session_issued_up_to_it_and_no_later_one() -> None:
    revocations = MemoryRevocations()
    verifier = SessionVerifier(secret=SECRET, revocations=revocations)
    client_id = uuid.uuid4()
    old, _ = issue_session(client_id=client_id, secret=SECRET, lifetime_s=60)
    other, _ = issue_session(client_id=uuid.uuid4(), secret=SECRET, lifetime_s=60)
    revocations.revoke_client(client_id, issued_up_to=time.time(), expires_at=int(time.time()) + 60)
    with pytest.raises(SessionRevoked):
        verifier.verify(old)
    verifier.verify(other)
    revocations.revoke_client(client_id, issued_up_to=0, expires_at=0)  # an older cut keeps it
    with pytest.raises(SessionRevoked):
        verifier.verify(old)


def test_revocations_are_forgotten_once_their_sessions_have_expired() -> None:
    revocations = MemoryRevocations()
    now = time.time()
    revocations.revoke_session("a", expires_at=int(now) + 10)
    revocations.revoke_session("b", expires_at=int(now) - 1)
    revocations.revoke_client(uuid.uuid4(), issued_up_to=now, expires_at=int(now) - 1)
    assert revocations.prune(now) == 2
    assert len(revocations) == 1


def test_a_forged_or_missing_cookie_is_a_session_error_not_a_revocation() -> None:
    verifier = SessionVerifier(secret=SECRET, revocations=MemoryRevocations())
    token, _ = issue_session(client_id=uuid.uuid4(), secret="t" * 32, lifetime_s=60)
    for bad in (None, "", token):
        with pytest.raises(SessionError) as caught:
            verifier.verify(bad)
        assert not isinstance(caught.value, SessionRevoked)


async def test_the_dependency_answers_401_problem_json_for_an_ended_session() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    revocations = MemoryRevocations()
    install_session_verifier(app, SessionVerifier(secret=SECRET, revocations=revocations))

    @app.get("/who")
    async def who(client_id: CurrentClient) -> dict[str, str]:
        return {"client_id": str(client_id)}

    token, session = issue_session(client_id=uuid.uuid4(), secret=SECRET, lifetime_s=60)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        http.cookies.set(COOKIE_NAME, token)
        assert (await http.get("/who")).json() == {"client_id": str(session.client_id)}
        revocations.revoke_session(session.session_id, expires_at=session.expires_at)
        ended = await http.get("/who")
        http.cookies.clear()
        anonymous = await http.get("/who")
    assert ended.status_code == 401
    assert ended.headers["content-type"] == "application/problem+json"
    assert "ended" in ended.json()["detail"]
    assert anonymous.status_code == 401
    assert "Sign in" in anonymous.json()["detail"]


def test_a_revoked_event_names_its_session_and_the_others_do_not() -> None:
    until = datetime.now(UTC) + timedelta(days=14)
    client_id = uuid.uuid4()
    SessionEnded(type="revoked", client_id=client_id, session_id="abc", expires_at=until)
    SessionEnded(type="client_erased", client_id=client_id, expires_at=until)
    with pytest.raises(ValidationError):
        SessionEnded(type="revoked", client_id=client_id, expires_at=until)
    with pytest.raises(ValidationError):
        SessionEnded(type="client_erased", client_id=client_id, session_id="a", expires_at=until)


def test_a_token_without_a_role_is_a_clients_and_an_unknown_role_is_refused() -> None:
    import jwt

    from cachalot_common.sessions import ALGORITHM, AUDIENCE

    claims = {"sub": str(uuid.uuid4()), "sid": "s1", "aud": AUDIENCE, "exp": time.time() + 60}
    old = jwt.encode(claims, SECRET, algorithm=ALGORITHM)
    assert read_session(old, secret=SECRET).role == "client"
    forged = jwt.encode({**claims, "role": "admin"}, SECRET, algorithm=ALGORITHM)
    with pytest.raises(SessionError):
        read_session(forged, secret=SECRET)
    token, _ = issue_session(client_id=uuid.uuid4(), secret=SECRET, lifetime_s=60, role="operator")
    assert read_session(token, secret=SECRET).role == "operator"


async def test_a_client_session_never_passes_as_an_operator_nor_an_operator_as_a_client() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    install_session_verifier(app, SessionVerifier(secret=SECRET, revocations=MemoryRevocations()))

    @app.get("/client")
    async def as_client(client_id: CurrentClient) -> dict[str, str]:
        return {"id": str(client_id)}

    @app.get("/operator")
    async def as_operator(operator: CurrentOperator) -> dict[str, str]:
        assert isinstance(operator, Session)
        return {"id": str(operator.client_id)}

    client, _ = issue_session(client_id=uuid.uuid4(), secret=SECRET, lifetime_s=60)
    operator, _ = issue_session(
        client_id=uuid.uuid4(), secret=SECRET, lifetime_s=60, role="operator"
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        answers = {}
        for who, token in (("client", client), ("operator", operator)):
            for path in ("/client", "/operator"):
                http.cookies.set(COOKIE_NAME, token)
                answers[who, path] = await http.get(path)
    assert answers["client", "/client"].status_code == 200
    assert answers["operator", "/operator"].status_code == 200
    for wrong in (answers["client", "/operator"], answers["operator", "/client"]):
        assert wrong.status_code == 403
        assert wrong.json()["type"] == WRONG_ROLE


def test_a_long_name_is_cut_between_whole_characters_in_the_session_and_its_token():
    keycaps = "1\ufe0f\u20e3" * 70  # 210 code points, 70 keycaps; a cut at 200 splits one
    token, session = issue_session(
        client_id=uuid.uuid4(), secret=SECRET, lifetime_s=60, name=keycaps
    )
    assert session.name is not None
    assert len(session.name) <= 200
    assert session.name.endswith("1\ufe0f\u20e3…")
    assert read_session(token, secret=SECRET).name == session.name
