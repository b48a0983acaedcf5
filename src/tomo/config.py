"""Settings: one class, read from `TOMO_*` environment variables.

Nothing is built at import time; the CLI and the app factory construct a
`Settings` and hand it down.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tomo.paths import DEFAULT_DATA_DIR

# An address tomo is reached at: scheme and host[:port], no path.
BASE_URL = r"^https?://[^/\s?#]+/?$"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOMO_", extra="ignore")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Where tomo keeps its state.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means SQLite in the data directory.",
    )
    allow_local_repos: bool = Field(
        default=True,
        description="Allow catalog repositories given as local paths or file:// URLs.",
    )
    builtin_catalog: bool = Field(
        default=True, description="Register the built-in catalog as the official repo."
    )
    git_timeout: float = Field(default=120.0, gt=0, description="Seconds per git command.")
    sync_interval: float = Field(
        default=6 * 3600.0, ge=0, description="Seconds between scheduled syncs; 0 disables."
    )
    monitor_interval: float = Field(
        default=60.0, ge=0, description="Seconds between health passes of `tomo serve`; 0 disables."
    )
    update_check_interval: float = Field(
        default=900.0, ge=0,
        description="Seconds between update passes of `tomo serve` (telling offers, applying "
        "automatic updates in their windows); 0 disables.",
    )  # fmt: skip
    image_check_interval: float = Field(
        default=6 * 3600.0, ge=0,
        description="Least seconds between two checks of the images' tags against their "
        "registries (one request per image and check).",
    )  # fmt: skip
    helper_image: str = Field(
        default="busybox:1.36.1", min_length=1, max_length=255,
        description="A small image with a shell that a restore runs on the server to swap an "
        "app's data folders (pulled there when missing).",
    )  # fmt: skip
    proxy_image: str = Field(
        default="caddy:2", min_length=1, max_length=255,
        description="The image of the front door tomo runs on a server to reach apps by name "
        "over HTTPS (Caddy; an offline site points it at its own registry).",
    )  # fmt: skip
    backup_before_update: bool = Field(
        default=True,
        description="Whether a new installation's updates back its data up first and put it "
        "back if the update fails (each installation can change it: tomo backup settings).",
    )
    backup_schedule_interval: float = Field(
        default=60.0, ge=0,
        description="Seconds between two looks for scheduled backups that are due (0: off).",
    )  # fmt: skip
    max_definition_bytes: int = Field(
        default=256 * 1024, gt=0, description="Largest app definition file accepted."
    )
    secret_key: str | None = Field(
        default=None,
        description="Fernet key for secrets at rest; empty: a 0600 key file in the data dir.",
        repr=False,
    )
    ssh_connect_timeout: float = Field(default=10.0, gt=0, description="Seconds to connect.")
    ssh_login_timeout: float = Field(default=20.0, gt=0, description="Seconds to log in.")
    ssh_command_timeout: float = Field(default=300.0, gt=0, description="Seconds per command.")
    ssh_status_timeout: float = Field(
        default=5.0, gt=0, description="Seconds `tomo ps` waits for one server's answer."
    )
    ssh_max_channels: int = Field(
        default=8, ge=1, le=64, description="Concurrent commands per server connection."
    )
    log_streams_per_user: int = Field(
        default=4, ge=1, le=64,
        description="Log streams (one per container shown) a user may have open at once.",
    )  # fmt: skip
    publish_address: str = Field(
        default="0.0.0.0",  # noqa: S104 - containers serve the LAN unless told otherwise
        description="Host address container ports are published on.",
    )
    install_wait_timeout: float = Field(
        default=180.0, gt=0, description="Seconds an install waits for its container to be up."
    )
    install_stable_seconds: float = Field(
        default=3.0,
        ge=0,
        description="Seconds a new container must stay up, never restarted, after it started, "
        "before an install or update counts as done (a crash later shows in its restart count).",
    )
    min_password_length: int = Field(default=10, ge=8, le=128, description="Shortest password.")
    session_idle_minutes: float = Field(
        default=12 * 60.0, gt=0, description="A browser session unused this long ends."
    )
    session_max_days: float = Field(
        default=14.0, gt=0, description="A browser session ends this long after its login."
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark cookies Secure even when a request arrives over plain HTTP (set "
        "this behind a TLS-terminating proxy); over https they always are.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Addresses or networks (comma-separated, e.g. 127.0.0.1,10.0.0.0/8) of "
        "the reverse proxies whose X-Forwarded-For and X-Forwarded-Proto tomo believes: the "
        "client's address (what logins are throttled and audited by) and scheme. Empty: none.",
    )
    public_url: str | None = Field(
        default=None,
        max_length=512,
        pattern=BASE_URL,
        description="How browsers reach tomo (e.g. https://tomo.home.example): where an app "
        "behind tomo's login sends them to log in. Needed for `tomo hostname login`.",
    )
    door_url: str | None = Field(
        default=None,
        max_length=512,
        pattern=BASE_URL,
        description="How the servers' front doors reach tomo to ask whether a request for "
        "an app behind tomo's login may pass (e.g. http://192.168.1.5:8420). Empty: "
        "TOMO_PUBLIC_URL.",
    )
    owner_label: str = Field(
        default="",
        max_length=63,
        pattern=r"^([A-Za-z0-9][A-Za-z0-9_.-]*)?$",
        description="Put on everything tomo creates on a server as the label tomo.owner, so "
        "that several tomo instances (or a test run) sharing a server can tell theirs apart.",
    )
    viewers_read_logs: bool = Field(
        default=False,
        description="Let viewers read installations' logs too. Off: only admins may, as an "
        "app may print secrets there (a password it generated, a token).",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8420, ge=1, le=65535)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        """Each an address or a network: anything else would trust nobody, silently."""
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"'{item}' is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)"
                ) from None
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'tomo.db'}"

    @property
    def repos_dir(self) -> Path:
        return self.data_dir / "repos"

    @property
    def log_file(self) -> Path:
        """tomo's own log: warnings, and the tracebacks of internal errors."""
        return self.data_dir / "tomo.log"

    @property
    def builtin_catalog_dir(self) -> Path:
        return self.data_dir / "builtin-catalog"
