"""Send a large request body over a raw socket and watch when the answer comes.

An HTTP client library sends the whole body before it reads the answer; to
prove a server answers *without reading the body* a test must send part of
it and see the answer arrive while the server is still owed bytes. These
helpers do that, and read a process's resident memory from ``/proc``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

CHUNK = b" " * (64 * 1024)


@dataclass(frozen=True, slots=True)
class EarlyAnswer:
    status: int | None  # None: no answer within the timeout
    head: bytes
    sent_bytes: int


def send_body(
    base_url: str,
    path: str,
    *,
    headers: Mapping[str, str],
    send_bytes: int,
    declared_bytes: int | None = None,
    method: str = "POST",
    timeout_s: float = 10.0,
) -> EarlyAnswer:
    """Send the head and ``send_bytes`` of body, then wait for the status line.

    ``declared_bytes`` is the ``Content-Length`` (``None``: chunked, no
    length). Sending stops early when the server closes the connection; the
    answer is what it sent before or after.
    """
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    chunked = declared_bytes is None
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {declared_bytes}")
    sent = 0
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            while sent < send_bytes:
                piece = CHUNK[: min(len(CHUNK), send_bytes - sent)]
                if chunked:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                else:
                    sock.sendall(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the server stopped reading: see what it answered
        head = b""
        deadline = time.monotonic() + timeout_s
        try:
            while b"\r\n\r\n" not in head and time.monotonic() < deadline:
                data = sock.recv(65536)
                if not data:
                    break
                head += data
        except (TimeoutError, ConnectionResetError):
            pass
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else None
    return EarlyAnswer(status=status, head=head, sent_bytes=sent)


def rss_bytes(pid: int) -> int:
    """The resident memory of process ``pid`` (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")
