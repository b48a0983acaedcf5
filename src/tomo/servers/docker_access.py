"""What Docker's error output says about whether a user can reach Docker at all.

Shared by the server check (which explains what to fix) and every Docker
command (which reports an unreachable daemon as such, not as a failed command).
"""

from __future__ import annotations


def access_problem(username: str, exit_code: int, stderr: str, *, sudo: bool) -> str:
    """Why `docker version` failed for this user, and what would fix it."""
    text = stderr.lower()
    if exit_code == 127 or ("not found" in text and "docker" in text and "daemon" not in text):
        return "Docker is not installed (no `docker` command for this user)"
    if sudo and ("password is required" in text or "not allowed" in text or "sudoers" in text):
        return (
            f"user '{username}' cannot run docker through sudo without a password: allow it "
            f"in sudoers ({username} ALL=(root) NOPASSWD: /usr/bin/docker) or add "
            f"'{username}' to the docker group and drop --sudo"
        )
    if "permission denied" in text:
        return _socket_refused(username)
    daemon = daemon_problem(username, stderr)
    if daemon:
        return daemon
    last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {exit_code}"
    return f"docker is not usable: {last}"


def daemon_problem(username: str, stderr: str) -> str | None:
    """The daemon is down or its socket refused this user; None for any other failure.

    Only Docker's own wording about its socket counts: "permission denied"
    alone may come from inside a container (a bind mount, an entrypoint).
    """
    text = stderr.lower()
    if "cannot connect to the docker daemon" in text or "is the docker daemon running" in text:
        return "the Docker daemon is not running"
    if "permission denied while trying to connect to the docker daemon" in text:
        return _socket_refused(username)
    return None


def _socket_refused(username: str) -> str:
    return (
        f"user '{username}' may not use the Docker socket: add it to the docker group "
        f"(usermod -aG docker {username}) or use --sudo with passwordless sudo for docker"
    )
