"""ACME's DNS-01 challenge set with `tomo server update`: the provider's credentials
come on standard input, are kept sealed (never in the database as typed, never shown
again) and stay while the provider does; each refusal names its option or line. The
real entry point on the real sshd + Docker test server, whose front door is not made
yet (so the settings are kept without asking Caddy)."""

from __future__ import annotations

from sqlalchemy import select

from tests.cli.tomo_cli import Tomo
from tests.deployment import conftest as deployment
from tests.deployment.conftest import Deploy
from tomo.servers.models import Server

# The deployment tests' fixtures: the real server, the `tomo` command on that data
# directory, on each database.
registry, images, data_root, database_url, deploy, tomo = (
    deployment.registry, deployment.images, deployment.data_root, deployment.database_url,
    deployment.deploy, deployment.tomo,
)  # fmt: skip

TOKEN = "s3cret-dns-token"


async def sealed_credentials(deploy: Deploy) -> str | None:
    async with deploy.runtime.db.session() as session:
        return await session.scalar(select(Server.dns_credentials_enc).where(Server.id == "box"))


async def test_dns_credentials_come_on_stdin_are_sealed_and_never_shown(
    deploy: Deploy, tomo: Tomo
) -> None:
    update = ("server", "update", "box", "--domain", "home.example", "--tls", "acme")
    done = tomo.run(*update, "--dns-provider", "cloudflare", "--dns-credentials-stdin",
                    "--json", stdin=f"\napi_token={TOKEN}\n")  # fmt: skip
    assert TOKEN not in done.stdout + done.stderr
    sealed = await sealed_credentials(deploy)
    assert sealed is not None and TOKEN not in sealed
    assert deploy.runtime.servers.secrets.decrypt(sealed) == f'{{"api_token": "{TOKEN}"}}'
    shown = tomo.json("server", "show", "box")
    assert (shown["dns_provider"], shown["dns_credentials_set"]) == ("cloudflare", True)
    proxy = tomo.run("server", "proxy", "box").stdout
    assert "acme (public CAs, DNS-01 through cloudflare)" in proxy and TOKEN not in proxy

    tomo.run("server", "update", "box", "--acme-email", "me@home.example")  # kept as it was
    assert await sealed_credentials(deploy) == sealed
    bad_line = tomo.error(*update, "--dns-credentials-stdin", stdin="just-the-token\n", expect=2)
    assert bad_line == ("error: --dns-credentials-stdin: line 1 is not KEY=VALUE "
                        "(api_token=…, say)")  # fmt: skip
    other = tomo.error(*update, "--dns-provider", "duckdns", expect=2)
    assert "the DNS provider duckdns needs its credentials" in other
    assert await sealed_credentials(deploy) == sealed  # nothing changed

    tomo.run(*update, "--dns-provider", "")  # back to HTTP-01: the credentials go
    shown = tomo.json("server", "show", "box")
    assert (shown["dns_provider"], shown["dns_credentials_set"]) == (None, False)
    assert await sealed_credentials(deploy) is None
