"""One HTTP/1.1 exchange with a service that hears the answer while it sends the body.

A general HTTP client (httpx, httpcore) writes the whole request body before it
reads a byte of the response. A proxy cannot: a service refuses a forged
session (401) or a declared size (413) as soon as it has the headers, and a
client that declared 4 GB would otherwise stream it all, through the gateway,
into a connection nobody reads. nginx reads the upstream while it writes, and
so does :func:`exchange`: the body is sent by one task while the response
head is awaited; whichever comes first wins. An answer that arrives before the
body is sent stops the upload and is relayed as it is.

Built on h11 (the HTTP/1.1 state machine under httpcore and uvicorn) over a
plain non-blocking socket: a service that answers early and closes with the
body unread resets the connection, and a write that fails then must not
discard the answer already received (an asyncio transport would). One
connection per exchange, closed at the end, so an interrupted upload never
leaves a connection half-way through a body.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Final

import anyio
import h11

READ_BYTES: Final = 65536


class UpstreamUnreachable(Exception):
    """The service refused the connection, or dropped it before answering (a 503)."""


class UpstreamTimeout(Exception):
    """The service took longer than the timeout to accept, take or answer (a 504)."""


class _Socket:
    """A connected TCP socket driven by the running asyncio loop.

    A failed send leaves the socket readable: what the peer sent before it
    reset the connection can still be received.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._loop = asyncio.get_running_loop()

    @classmethod
    async def connect(cls, host: str, port: int) -> _Socket:
        """Raises OSError when no address of ``host`` accepts."""
        loop = asyncio.get_running_loop()
        addresses = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        last: OSError = OSError(f"no address for {host}")
        for family, type_, proto, _, address in addresses:
            sock = socket.socket(family, type_, proto)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, address)
            except BaseException as refused:
                sock.close()
                if not isinstance(refused, OSError):
                    raise
                last = refused
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return cls(sock)
        raise last

    async def send(self, data: bytes) -> None:
        await self._loop.sock_sendall(self._sock, data)

    async def receive(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes``; b"" at the end of the stream."""
        return await self._loop.sock_recv(self._sock, max_bytes)

    async def aclose(self) -> None:
        self._sock.close()


@dataclass
class Upstream:
    """A service's answer: its status line and headers; :meth:`body` streams the rest.

    ``headers``: as the service wrote them (name case kept), framing included.
    ``body_cut_short``: the service answered before the whole request body
    was sent; the rest of the client's body was not read.
    Call :meth:`aclose` when done (the connection is not reused).
    """

    status: int
    headers: list[tuple[bytes, bytes]]
    body_cut_short: bool
    _stream: _Socket
    _connection: h11.Connection
    _timeout_s: float

    async def body(self) -> AsyncIterator[bytes]:
        """The response body as it arrives, de-framed (chunked decoded).

        Raises :class:`UpstreamUnreachable` when the service drops the
        connection mid-answer, :class:`UpstreamTimeout` when it stalls.
        """
        while True:
            event = await _next_event(self._connection, self._stream, self._timeout_s)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return

    async def aclose(self) -> None:
        """Close the connection to the service."""
        await self._stream.aclose()


async def exchange(
    host: str,
    port: int,
    method: bytes,
    target: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    body: AsyncIterator[bytes],
    *,
    connect_timeout_s: float,
    timeout_s: float,
) -> Upstream:
    """Send one request to ``host:port`` and return the service's answer head.

    ``headers`` must carry ``Host`` and the framing of ``body``
    (``Content-Length``, ``Transfer-Encoding: chunked``, or neither for no
    body); h11 frames the bytes accordingly. ``body`` is iterated while the
    answer is awaited: when the answer comes first, the iteration stops
    there (the rest of the client's body is never read). Exceptions from
    ``body`` itself (a size cap, the client leaving) propagate unchanged.

    ``timeout_s``: the longest wait for the service to accept a piece of the
    body, and for each read once the body is sent (RFC 9110 gives no figure;
    httpx's default semantics). A slow client is not the service's fault: no
    read deadline runs while the client is still sending.

    Raises :class:`UpstreamUnreachable` (connection refused or dropped before
    an answer), :class:`UpstreamTimeout`.
    """
    try:
        with anyio.fail_after(connect_timeout_s):
            stream = await _Socket.connect(host, port)
    except TimeoutError as slow:
        raise UpstreamTimeout from slow
    except OSError as refused:
        raise UpstreamUnreachable from refused
    connection = h11.Connection(h11.CLIENT)
    try:
        head, sent = await _send_and_await_head(
            stream, connection, method, target, headers, body, timeout_s
        )
    except BaseException:
        await _close_quietly(stream)
        raise
    return Upstream(
        head.status_code,
        list(head.headers.raw_items()),
        not sent,
        stream,
        connection,
        timeout_s,
    )


async def _send_and_await_head(
    stream: _Socket,
    connection: h11.Connection,
    method: bytes,
    target: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    body: AsyncIterator[bytes],
    timeout_s: float,
) -> tuple[h11.Response, bool]:
    """The answer's head, and whether the whole body was sent before it."""
    request = h11.Request(method=method, target=target, headers=list(headers))
    try:
        with anyio.fail_after(timeout_s):
            await stream.send(connection.send(request) or b"")
    except TimeoutError as slow:
        raise UpstreamTimeout from slow
    except OSError as dropped:
        raise UpstreamUnreachable from dropped
    # The read deadline starts only once the body is sent (see exchange()).
    reading = anyio.CancelScope(deadline=math.inf)
    failure: list[BaseException] = []
    sent: list[bool] = []

    async def send_body() -> None:
        try:
            async for chunk in body:
                if chunk:
                    with anyio.fail_after(timeout_s):
                        await stream.send(connection.send(h11.Data(data=chunk)) or b"")
            with anyio.fail_after(timeout_s):
                await stream.send(connection.send(h11.EndOfMessage()) or b"")
            sent.append(True)
        except TimeoutError as stalled:  # an OSError too: told apart first
            failure.append(stalled)
            tasks.cancel_scope.cancel()
            return
        except OSError:
            # The service closed or reset the connection mid-body; whether it
            # answered first is for the reader to find out.
            pass
        except BaseException as stopped:  # the body's own error
            if isinstance(stopped, anyio.get_cancelled_exc_class()):
                raise
            # Kept for the caller: raised from a task it would come wrapped
            # in an ExceptionGroup.
            failure.append(stopped)
            tasks.cancel_scope.cancel()
            return
        reading.deadline = anyio.current_time() + timeout_s

    head: h11.Response | None = None
    heard: list[UpstreamUnreachable] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(send_body)
        with reading:
            try:
                head = await _await_head(connection, stream)
            except UpstreamUnreachable as dropped:
                # Raised here it would leave the task group wrapped in an
                # ExceptionGroup.
                heard.append(dropped)
        # Answered (or dropped, or timed out): an upload still under way stops here.
        tasks.cancel_scope.cancel()
    if heard:
        raise heard[0]
    if failure:
        if isinstance(failure[0], TimeoutError):
            raise UpstreamTimeout from failure[0]
        raise failure[0]
    if head is None:  # the reading scope's deadline passed
        raise UpstreamTimeout
    return head, bool(sent)


async def _await_head(connection: h11.Connection, stream: _Socket) -> h11.Response:
    while True:
        event = await _next_event(connection, stream, None)
        if isinstance(event, h11.Response):
            return event
        # h11.InformationalResponse (100 Continue): the final answer follows.


async def _next_event(
    connection: h11.Connection, stream: _Socket, timeout_s: float | None
) -> h11.Event:
    while True:
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError as garbled:
            raise UpstreamUnreachable from garbled
        if event is not h11.NEED_DATA:
            if isinstance(event, h11.ConnectionClosed):
                raise UpstreamUnreachable
            assert not isinstance(event, type)
            return event
        try:
            with anyio.fail_after(timeout_s):
                data = await stream.receive(READ_BYTES)
        except TimeoutError as slow:
            raise UpstreamTimeout from slow
        except OSError as dropped:
            raise UpstreamUnreachable from dropped
        connection.receive_data(data)


async def _close_quietly(stream: _Socket) -> None:
    with anyio.CancelScope(shield=True):
        with contextlib.suppress(OSError):
            await stream.aclose()
