"""One HTTP client per platform: a keep-alive pool on plain asyncio sockets.

Profiled under ``bench/pipeline.py`` (py-spy, 2,000 TikTok posts), a third of
publisher-tiktok's CPU went to the HTTP stack's plumbing rather than to HTTP:

* httpcore's pool checks every idle connection before each request and after
  each response (``has_expired`` → ``get_extra_info("is_readable")``), and its
  AnyIO stream answers that by rebuilding AnyIO's typed-attribute table and
  polling the socket: about a fifth of the process's CPU with 30 connections;
* with httpx's default limits (20 keep-alive connections of at most
  ``2 × publish_concurrency``), the pool closed idle connections whenever more
  than 20 existed, so a busy publisher kept opening new TCP connections;
* AnyIO's cancel scopes and checkpoints around every read and write;
* httpx's cookie jar, which read every response's headers into urllib's request
  and response stand-ins (about 7 % of publisher-tiktok's CPU), for APIs that
  authenticate with tokens and set no cookie a publisher needs.

* httpcore 1.0's pool bookkeeping, run as each request joins and leaves the
  pool: it counts every connection once for each idle connection, quadratic in
  the pool's size (1.9 ms of client CPU per request with 32 requests in flight
  over 64 connections, against 1.3 ms over 8).

:func:`platform_http_client` keeps httpx (its API and its errors) and httpcore's
HTTP/1.1 connections and pools, joined by :class:`PoolTransport` on both
libraries' public APIs only, and changes only what is under them: as many
keep-alive connections as connections (none is closed for being idle, except
after ``keepalive_s``), no cookies (:class:`NoCookies`),
:class:`AsyncioBackend`, a network backend on an :class:`asyncio.Protocol`
whose "is readable" is a flag the event loop already keeps (data or end of
stream received), so an idle-connection check costs no system call, and
:class:`ShardedTransport`, which spreads the connections over pools of at most
``SHARD_CONNECTIONS`` each (httpx's public transport API), so that bookkeeping
stays small while a request still waits only when every connection is busy.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, cast

import httpcore
import httpx

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)
READ_BUFFER_LIMIT = 1024 * 1024  # bytes held unread before the socket stops being read
SHARD_CONNECTIONS = 8  # connections per httpcore pool (its bookkeeping is quadratic in them)


@contextlib.contextmanager
def _mapped(mapping: dict[type[BaseException], type[Exception]]) -> Iterator[None]:
    """Raise an error of a ``mapping`` key's class as the most specific of the classes
    its keys map it to (httpx's rule); other errors pass unchanged."""
    try:
        yield
    except Exception as error:
        mapped: type[Exception] | None = None
        for source, target in mapping.items():
            if isinstance(error, source) and (mapped is None or issubclass(target, mapped)):
                mapped = target
        if mapped is None:
            raise
        raise mapped(str(error) or type(error).__name__) from error


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection's receive buffer and flow-control state."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self._reading: asyncio.Future[None] | None = None
        self._draining: asyncio.Future[None] | None = None
        self._read_paused = False
        self._write_paused = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; both have the methods
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > READ_BUFFER_LIMIT and self.transport is not None:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake_reader()
        if self._draining is not None and not self._draining.done():
            self._draining.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._draining is not None and not self._draining.done():
            self._draining.set_result(None)

    def _wake_reader(self) -> None:
        if self._reading is not None and not self._reading.done():
            self._reading.set_result(None)

    # used by the stream

    async def wait_readable(self) -> None:
        self._reading = asyncio.get_running_loop().create_future()
        try:
            await self._reading
        finally:
            self._reading = None

    def take(self, max_bytes: int) -> bytes:
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        if self._read_paused and len(self.buffer) <= READ_BUFFER_LIMIT // 2 and self.transport:
            self._read_paused = False
            self.transport.resume_reading()
        return data

    async def drain(self) -> None:
        while self._write_paused and self.transport is not None and not self.eof:
            self._draining = asyncio.get_running_loop().create_future()
            try:
                await self._draining
            finally:
                self._draining = None


class AsyncioStream(httpcore.AsyncNetworkStream):
    """httpcore's view of one :class:`_Connection` (errors mapped to httpcore's)."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        conn = self._connection
        with _mapped({TimeoutError: httpcore.ReadTimeout, OSError: httpcore.ReadError}):
            if not conn.buffer and not conn.eof:
                async with asyncio.timeout(timeout):
                    while not conn.buffer and not conn.eof:
                        await conn.wait_readable()
        if conn.buffer:
            return conn.take(max_bytes)
        if conn.error is not None:
            raise httpcore.ReadError(type(conn.error).__name__) from conn.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        conn = self._connection
        transport = conn.transport
        if transport is None or transport.is_closing() or conn.error is not None:
            raise httpcore.WriteError("the connection is closed")
        with _mapped(
            {
                TimeoutError: httpcore.WriteTimeout,
                OSError: httpcore.WriteError,
                RuntimeError: httpcore.WriteError,
            }
        ):
            transport.write(buffer)
            async with asyncio.timeout(timeout):
                await conn.drain()
        if conn.error is not None:
            raise httpcore.WriteError(type(conn.error).__name__) from conn.error

    async def aclose(self) -> None:
        transport = self._connection.transport
        if transport is not None:
            transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        conn = self._connection
        assert conn.transport is not None
        loop = asyncio.get_running_loop()
        with _mapped(
            {
                TimeoutError: httpcore.ConnectTimeout,
                ssl.SSLError: httpcore.ConnectError,
                OSError: httpcore.ConnectError,
                ConnectionError: httpcore.ConnectError,
            }
        ):
            try:
                async with asyncio.timeout(timeout):
                    tls = await loop.start_tls(
                        conn.transport, conn, ssl_context, server_hostname=server_hostname
                    )
            except BaseException:
                conn.transport.close()
                raise
        if tls is None:
            raise httpcore.ConnectError("TLS could not be started")
        conn.transport = tls
        return self

    def get_extra_info(self, info: str) -> Any:
        conn = self._connection
        if info == "is_readable":  # data or the end of the stream is waiting: the flag suffices
            return bool(conn.buffer) or conn.eof
        transport = conn.transport
        if transport is None:
            return None
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend on asyncio's own transports (see the module docstring)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        with _mapped({TimeoutError: httpcore.ConnectTimeout, OSError: httpcore.ConnectError}):
            async with asyncio.timeout(timeout):
                transport, conn = await loop.create_connection(
                    _Connection,
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                )
            _apply(transport, socket_options)  # TCP_NODELAY is asyncio's default
        return AsyncioStream(conn)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        with _mapped({TimeoutError: httpcore.ConnectTimeout, OSError: httpcore.ConnectError}):
            async with asyncio.timeout(timeout):
                transport, conn = await loop.create_unix_connection(_Connection, path)
            _apply(transport, socket_options)
        return AsyncioStream(conn)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _apply(transport: asyncio.BaseTransport, options: Iterable[SocketOption] | None) -> None:
    sock: socket.socket | None = transport.get_extra_info("socket")
    for option in options or ():
        if sock is not None:
            sock.setsockopt(*option)


# httpcore's errors and the httpx errors a caller sees instead: the table of
# httpx 0.28's own transport (``HTTPCORE_EXC_MAP`` in httpx/_transports/default.py),
# applied as there: an error becomes the most specific httpx class it maps to.
HTTPCORE_TO_HTTPX: dict[type[BaseException], type[Exception]] = {
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
}


class _Body(httpx.AsyncByteStream):
    """An httpcore response's body as httpx reads it: chunks as they arrive, httpcore's
    errors raised as httpx's (:data:`HTTPCORE_TO_HTTPX`); closing it closes the httpcore
    response (its connection goes back to the pool) and then calls ``release``."""

    def __init__(
        self, response: httpcore.Response, release: Callable[[], None] | None = None
    ) -> None:
        self._response = response
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(HTTPCORE_TO_HTTPX):
            async for chunk in self._response.aiter_stream():
                yield chunk

    async def aclose(self) -> None:
        try:
            with _mapped(HTTPCORE_TO_HTTPX):
                await self._response.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class PoolTransport(httpx.AsyncBaseTransport):
    """An httpx transport on one ``httpcore.AsyncConnectionPool`` (HTTP/1.1) over
    :class:`AsyncioBackend`, built on the public APIs of both libraries only.

    At most ``max_connections`` connections, all kept alive while idle for up to
    ``keepalive_s`` seconds. The request's ``timeout`` extension (seconds for
    connect, read, write, pool) and its other extensions pass to httpcore as httpx's
    own transport passes them; httpcore's errors reach the caller as httpx's, by the
    table of httpx's transport (:data:`HTTPCORE_TO_HTTPX`), while the request is sent
    and while its body is read.
    """

    def __init__(
        self, *, max_connections: int, keepalive_s: float, verify: ssl.SSLContext | bool = True
    ) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=keepalive_s,
            http1=True,
            http2=False,
            network_backend=AsyncioBackend(),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.send(request)

    async def send(
        self, request: httpx.Request, release: Callable[[], None] | None = None
    ) -> httpx.Response:
        """:meth:`handle_async_request`, calling ``release`` once the response's body
        is closed (not called if this raises)."""
        assert isinstance(request.stream, httpx.AsyncByteStream)
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _mapped(HTTPCORE_TO_HTTPX):
            response = await self._pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response, release),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class ShardedTransport(httpx.AsyncBaseTransport):
    """``max_connections`` HTTP/1.1 connections kept in pools of at most
    ``SHARD_CONNECTIONS`` each, so a pool's bookkeeping (quadratic in its
    connections, see the module docstring) stays small.

    A request goes to the first pool with a free connection slot (a slot is
    held from the request until its response body is closed), so a request
    waits only when all ``max_connections`` are busy, as with one pool; waiting
    requests are served first come, first served, each for at most the
    request's ``timeout.pool`` (then ``httpx.PoolTimeout``).
    """

    def __init__(
        self, *, max_connections: int, keepalive_s: float, verify: ssl.SSLContext | bool = True
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        sizes = [SHARD_CONNECTIONS] * (max_connections // SHARD_CONNECTIONS)
        if max_connections % SHARD_CONNECTIONS:
            sizes.append(max_connections % SHARD_CONNECTIONS)
        self._pools = [
            PoolTransport(max_connections=size, keepalive_s=keepalive_s, verify=verify)
            for size in sizes
        ]
        self._free = list(sizes)
        self._waiting: collections.deque[asyncio.Future[int]] = collections.deque()

    async def _slot(self, timeout: float | None) -> int:
        if not self._waiting:
            for index, free in enumerate(self._free):
                if free:
                    self._free[index] -= 1
                    return index
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                self._give_back(waiter.result())  # handed a slot just as it gave up
            if isinstance(error, TimeoutError):
                raise httpx.PoolTimeout("no connection became free in time") from error
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiting.remove(waiter)

    def _give_back(self, index: int) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(index)
                return
        self._free[index] += 1

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        index = await self._slot(timeouts.get("pool"))
        try:
            return await self._pools[index].send(request, lambda: self._give_back(index))
        except BaseException:
            self._give_back(index)
            raise

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


class NoCookies(httpx.Cookies):
    """A cookie jar that stays empty: a ``Set-Cookie`` answer is not read, none is sent."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        raise TypeError("a platform client keeps no cookies (they authenticate with tokens)")


class _PlatformClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` whose cookies are :class:`NoCookies`."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._no_cookies = NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("a platform client keeps no cookies (they authenticate with tokens)")


def platform_http_client(
    *,
    timeout: httpx.Timeout,
    max_connections: int,
    keepalive_s: float = 5.0,
    verify: ssl.SSLContext | bool = True,
) -> httpx.AsyncClient:
    """The ``httpx.AsyncClient`` a publisher uses for every call to its platform.

    ``max_connections`` connections at most (HTTP/1.1), all kept alive while idle
    for up to ``keepalive_s`` seconds (httpx's default, no longer than common servers'
    idle timeouts, uvicorn's 5 s included, so a request rarely meets a connection the
    server is closing); requests past ``max_connections`` wait for a free one
    (``timeout.pool``). Errors are httpx's, as with a default client. It keeps no
    cookies: a ``Set-Cookie`` answer is ignored and a request carries none (the
    platforms' APIs take tokens); giving it cookies raises ``TypeError``.
    """
    transport = ShardedTransport(
        max_connections=max_connections, keepalive_s=keepalive_s, verify=verify
    )
    return _PlatformClient(timeout=timeout, transport=transport)
