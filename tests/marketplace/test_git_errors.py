"""What a failed git command says: git's own words, bounded, never a login."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tomo.errors import GitError
from tomo.marketplace.git import MAX_GIT_DETAIL, run_git

LONG_REASON = "mirror https://user:s3cret@mirror.example/x is down: " + "because " * 200 + "the end"


def pkt_line(text: str) -> bytes:
    """One line of git's wire protocol: its length (4 hex digits, itself included), then it."""
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


class RefusingRemote(BaseHTTPRequestHandler):
    """A git smart-HTTP remote that answers every request with an error of its own
    (as a hosting service does when a repository is disabled)."""

    def do_GET(self) -> None:
        body = pkt_line("# service=git-upload-pack\n") + b"0000" + pkt_line(f"ERR {LONG_REASON}\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/x-git-upload-pack-advertisement")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def refusing_remote() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RefusingRemote)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/x.git"
    server.shutdown()
    server.server_close()


async def test_a_remotes_own_words_are_kept_bounded_and_without_a_login(
    refusing_remote: str,
) -> None:
    # Plain HTTP on loopback, allowed here only: tomo itself speaks https.
    argv = ["git", "-c", "protocol.allow=never", "-c", "protocol.http.allow=always",
            "ls-remote", "--", refusing_remote]  # fmt: skip
    with pytest.raises(GitError) as failed:
        await run_git(argv, cwd=None, time_limit=20)

    message = failed.value.message
    prefix = "git ls-remote failed: "
    assert message.startswith(
        f"{prefix}fatal: remote error: mirror https://***@mirror.example/x is down: because"
    )
    assert message.endswith("because the end")
    assert " … " in message
    assert len(message) <= len(prefix) + MAX_GIT_DETAIL
    assert "s3cret" not in message
