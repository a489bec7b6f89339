"""A loopback TCP port nothing listens on, never the same one twice in one process."""

from __future__ import annotations

import socket

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on right now, never handed out before by this process.

    The OS picks it (bind to port 0) and may offer a closed probe's port again: asked for
    several in a row, it once gave the embedded gateway and publisher-tiktok both 40177, and
    the second could not listen. So a port handed out once is never offered again.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
