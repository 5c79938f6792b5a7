"""Length-prefixed frames between the server and a worker: a JSON header and raw body bytes.

The user's code owns the worker's stdout and stderr (they go to CloudWatch Logs), so requests and answers
travel on a separate socket instead.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

_PREFIX = struct.Struct("!IQ")  # header length, body length


class ChannelClosed(Exception):
    """The other end went away (the worker died, or the server closed the socket)."""


def send(sock: socket.socket, header: dict[str, Any], body: bytes = b"") -> None:
    encoded = json.dumps(header).encode()
    sock.sendall(_PREFIX.pack(len(encoded), len(body)) + encoded + body)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ChannelClosed("the channel closed mid-frame" if chunks else "the channel closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket) -> tuple[dict[str, Any], bytes]:
    header_size, body_size = _PREFIX.unpack(_read_exactly(sock, _PREFIX.size))
    header: dict[str, Any] = json.loads(_read_exactly(sock, header_size))
    return header, _read_exactly(sock, body_size) if body_size else b""
