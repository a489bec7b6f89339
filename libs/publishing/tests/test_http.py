"""The platform HTTP client: httpx on asyncio sockets, every connection kept alive.

Against a real HTTP/1.1 server on a loopback port that counts the TCP
connections it accepts and can be told to hang up or to stall.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cachalot_publishing.http import platform_http_client

TIMEOUT = httpx.Timeout(5.0)


@dataclass
class Server:
    url: str
    connections: int = 0
    hang_up_after_reply: bool = False
    stall: bool = False
    set_cookie: bool = False
    heads: list[bytes] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)


@contextlib.asynccontextmanager
async def http_server(tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    """A keep-alive HTTP/1.1 server answering every request with its body echoed back
    (over TLS with ``tls``)."""
    server = Server(url="")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        server.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                server.heads.append(head)
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                if server.stall or body == b"stall":
                    await asyncio.sleep(3600)
                await asyncio.sleep(0.01)  # requests overlap
                cookie = b"Set-Cookie: session=abc; Path=/\r\n" if server.set_cookie else b""
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    + cookie
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                if server.hang_up_after_reply:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    port = listener.sockets[0].getsockname()[1]
    server.url = f"{'https' if tls else 'http'}://localhost:{port}"
    try:
        yield server
    finally:
        listener.close()
        for writer in server.writers:
            writer.close()


async def test_thirty_concurrent_requests_open_thirty_connections_that_later_rounds_reuse() -> None:
    async with (
        http_server() as server,
        platform_http_client(timeout=TIMEOUT, max_connections=64) as http,
    ):
        for _ in range(3):
            answers = await asyncio.gather(
                *(http.post(server.url, content=f"{i}".encode()) for i in range(30))
            )
            assert [a.content for a in answers] == [f"{i}".encode() for i in range(30)]
        assert server.connections == 30, "the second and third rounds reused the first's"


async def test_requests_past_the_connection_limit_wait_for_a_free_connection_and_reuse_it() -> None:
    async with (
        http_server() as server,
        platform_http_client(timeout=TIMEOUT, max_connections=20) as http,  # pools of 8, 8, 4
    ):
        answers = await asyncio.gather(
            *(http.post(server.url, content=f"{i}".encode()) for i in range(100))
        )
        assert [a.content for a in answers] == [f"{i}".encode() for i in range(100)]
        assert server.connections == 20


async def test_a_request_waits_only_while_every_connection_is_busy_then_up_to_pool() -> None:
    async with (
        http_server() as server,
        platform_http_client(timeout=httpx.Timeout(5.0, pool=0.3), max_connections=10) as http,
    ):

        async def stall(requests: int) -> list[asyncio.Task[httpx.Response]]:
            sent = len(server.heads)
            tasks = [
                asyncio.create_task(http.post(server.url, content=b"stall"))
                for _ in range(requests)
            ]
            while len(server.heads) < sent + requests:
                await asyncio.sleep(0.01)
            return tasks

        stalled = await stall(9)  # a first pool of 8 connections is full, the second has room
        assert (await http.post(server.url, content=b"tenth")).content == b"tenth"
        stalled += await stall(1)
        with pytest.raises(httpx.PoolTimeout):
            await http.post(server.url, content=b"eleventh")
        waiting = asyncio.create_task(http.post(server.url, content=b"gave up"))
        await asyncio.sleep(0.05)
        waiting.cancel()
        stalled[0].cancel()  # its connection is closed and its slot given back
        await asyncio.gather(waiting, stalled[0], return_exceptions=True)
        answer = await http.post(server.url, content=b"freed")
        assert answer.content == b"freed", "the slot went to this request, not to a waiter gone"
        for task in stalled:
            task.cancel()
        await asyncio.gather(*stalled, return_exceptions=True)


async def test_a_full_pool_of_idle_connections_to_one_host_gives_one_up_for_another_host() -> None:
    async with (
        http_server() as first,
        http_server() as second,
        platform_http_client(timeout=TIMEOUT, max_connections=2) as http,
    ):
        await asyncio.gather(*(http.post(first.url, content=b"a") for _ in range(2)))
        assert first.connections == 2
        answers = await asyncio.gather(*(http.post(second.url, content=b"b") for _ in range(3)))
        assert [a.content for a in answers] == [b"b"] * 3
        assert second.connections == 2, "both idle connections to the first host were replaced"
        assert (await http.post(first.url, content=b"c")).content == b"c"
        assert first.connections == 3


async def test_a_connection_the_server_closed_while_idle_is_replaced_not_used() -> None:
    async with (
        http_server() as server,
        platform_http_client(timeout=TIMEOUT, max_connections=4) as http,
    ):
        server.hang_up_after_reply = True
        for i in range(5):
            await asyncio.sleep(0.05)  # the hang-up reaches the idle connection
            assert (await http.post(server.url, content=b"x" * i)).content == b"x" * i
        assert server.connections == 5


async def test_a_cookie_the_platform_sets_is_neither_kept_nor_sent_back() -> None:
    async with (
        http_server() as server,
        platform_http_client(timeout=TIMEOUT, max_connections=2) as http,
    ):
        server.set_cookie = True
        first = await http.post(server.url, content=b"a")
        await http.post(server.url, content=b"b")
        assert first.headers["set-cookie"].startswith("session=abc")
        assert not http.cookies, "nothing kept"
        assert not any(b"cookie:" in head.lower() for head in server.heads), "nothing sent"
        with pytest.raises(TypeError):
            http.cookies = {"session": "abc"}


async def test_a_large_body_is_sent_whole_and_echoed_back() -> None:
    body = bytes(range(256)) * 16_384  # 4 MiB: the socket's write buffer fills and drains
    async with (
        http_server() as server,
        platform_http_client(timeout=TIMEOUT, max_connections=2) as http,
    ):
        answer = await http.put(server.url, content=body)
    assert answer.content == body


async def test_a_stalled_answer_raises_httpx_read_timeout() -> None:
    async with (
        http_server() as server,
        platform_http_client(timeout=httpx.Timeout(0.3), max_connections=2) as http,
    ):
        server.stall = True
        with pytest.raises(httpx.ReadTimeout):
            await http.post(server.url, content=b"x")


async def test_a_refused_connection_raises_httpx_connect_error() -> None:
    async with http_server() as server:
        url = server.url
    async with platform_http_client(timeout=TIMEOUT, max_connections=2) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(url)


def test_requests_run_on_uvloop_as_the_services_run_them() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def rounds() -> int:
        async with (
            http_server() as server,
            platform_http_client(timeout=TIMEOUT, max_connections=8) as http,
        ):
            for _ in range(2):
                answers = await asyncio.gather(
                    *(http.post(server.url, content=b"%d" % i) for i in range(8))
                )
                assert [a.content for a in answers] == [b"%d" % i for i in range(8)]
            return server.connections

    assert uvloop.run(rounds()) == 8


def self_signed(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context for ``localhost`` and a client context trusting only its certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


async def test_https_requests_are_verified_and_reuse_their_tls_connections(
    tmp_path: Path,
) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    body = b"y" * 300_000
    async with (
        http_server(server_tls) as server,
        platform_http_client(timeout=TIMEOUT, max_connections=4, verify=client_tls) as http,
    ):
        for _ in range(3):
            answers = await asyncio.gather(*(http.put(server.url, content=body) for _ in range(4)))
            assert all(a.content == body for a in answers)
        assert server.connections == 4
    async with (
        http_server(server_tls) as server,
        platform_http_client(timeout=TIMEOUT, max_connections=1) as untrusting,
    ):
        with pytest.raises(httpx.ConnectError):
            await untrusting.get(server.url)


@contextlib.asynccontextmanager
async def misbehaving_server(behaviour: str) -> AsyncIterator[str]:
    """The URL of a loopback server that misbehaves as ``behaviour`` says: "refused"
    (nothing listens), "no TLS handshake" (an HTTPS URL whose server never answers the
    ClientHello), "no answer" (a request is read and never answered); otherwise it
    reads a request's head, writes ``behaviour`` and hangs up."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if behaviour in ("no TLS handshake", "no answer"):
                await reader.read()  # until the client gives up
            else:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(behaviour.encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    scheme = "https" if behaviour == "no TLS handshake" else "http"
    if behaviour == "refused":
        listener.close()
        await listener.wait_closed()
    try:
        yield f"{scheme}://localhost:{port}"
    finally:
        listener.close()


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("no TLS handshake", httpx.ConnectTimeout),
        ("no answer", httpx.ReadTimeout),
        ("refused", httpx.ConnectError),
        ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", httpx.RemoteProtocolError),
        ("NOT HTTP AT ALL\r\n\r\n", httpx.RemoteProtocolError),
        ("", httpx.RemoteProtocolError),  # hangs up without an answer
    ],
    ids=["connect timeout", "read timeout", "refused", "body cut short", "garbage", "hang-up"],
)
async def test_each_error_a_platform_call_can_meet_reaches_the_caller_as_httpx_error_of_its_name(
    behaviour: str, error: type[httpx.HTTPError]
) -> None:
    async with (
        misbehaving_server(behaviour) as url,
        platform_http_client(timeout=httpx.Timeout(0.3), max_connections=2) as http,
    ):
        with pytest.raises(httpx.HTTPError) as raised:
            async with http.stream("POST", url, content=b"x") as response:
                await response.aread()  # "body cut short" fails here, as the body is read
    assert type(raised.value) is error, repr(raised.value)
    cause = raised.value.__cause__
    assert type(cause).__module__.startswith("httpcore"), repr(cause)
    assert type(cause).__name__ == error.__name__, "httpcore's error of the same name"
