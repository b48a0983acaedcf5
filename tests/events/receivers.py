"""Real local receivers of notifications: an HTTP server taking Apprise's json://
posts, and an SMTP server (aiosmtpd) taking its mailto:// mails. Loopback only."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    items: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: Any) -> None:
        with self.lock:
            self.items.append(item)

    def wait_for(self, count: int, seconds: float = 15.0) -> list[Any]:
        """What arrived once `count` items have (or the time is up), bounded."""
        deadline = time.monotonic() + seconds
        for _ in range(int(seconds / 0.05)):
            with self.lock:
                if len(self.items) >= count or time.monotonic() > deadline:
                    return list(self.items)
            time.sleep(0.05)
        return list(self.items)


@dataclass
class HttpReceiver:
    port: int
    posts: Received

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    posts = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            posts.add({"path": self.path, "json": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpReceiver(server.server_address[1], posts)
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    """A loopback port nobody listens on (a receiver that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class SmtpReceiver:
    port: int
    mails: Received

    def url(self) -> str:
        return (f"mailto://127.0.0.1:{self.port}?mode=insecure&from=tomo@example.org"
                "&to=admin@example.org")  # fmt: skip


class _Keep:
    def __init__(self, mails: Received) -> None:
        self.mails = mails

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        text = content.decode() if isinstance(content, bytes) else str(content)
        self.mails.add({"to": list(envelope.rcpt_tos), "data": text})
        return "250 OK"


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    mails = Received()
    port = free_port()
    controller = Controller(_Keep(mails), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpReceiver(port, mails)
    finally:
        controller.stop()
