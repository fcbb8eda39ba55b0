"""Real local receivers for tests: an HTTP endpoint and an SMTP server (aiosmtpd, a dev
dependency imported on use). They answer as told (failures first), and record what came."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Self

_REASONS = {200: "OK", 400: "Bad Request", 500: "Internal Server Error", 503: "Unavailable"}


@dataclass(frozen=True)
class Request:
    """One request the HTTP receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class HttpReceiver:
    """Answers the given statuses in order, then `then`; `requests` lists every request."""

    statuses: Sequence[int] = ()
    then: int = 200
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks/followup"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def ok(self) -> list[Request]:
        """The requests answered with a 2xx."""
        return [r for r in self.requests if 200 <= r.status < 300]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            n = len(self.requests)
            status = self.statuses[n] if n < len(self.statuses) else self.then
            self.requests.append(Request(method, path, headers, body, status))
            reason = _REASONS.get(status, "Status")
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpReceiver:
    """An SMTP server on a free local port: answers DATA with `replies` in order, then 250."""

    replies: Sequence[str] = ()
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    attempts: int = 0
    port: int = 0
    _controller: Any = None

    def __enter__(self) -> Self:
        from aiosmtpd.controller import Controller

        self.port = _free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd's hook: fail as told, else keep the message."""
        n = self.attempts
        self.attempts += 1
        if n < len(self.replies):
            return self.replies[n]
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"
