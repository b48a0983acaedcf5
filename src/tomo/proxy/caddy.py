"""A FrontDoorConfig as Caddy's JSON config (Caddy 2.6 and later): one document that
replaces the running one whole (`caddy reload`, i.e. the admin API's /load, which
goes back to the previous config when the new one cannot run).

    admin    localhost:2019 inside the container: reachable by `docker exec` only
    storage  /data/caddy on the front door's volume: keys, certificates and the
             internal CA's root survive restarts and new images
    apps     http: one server, one route per Route (a host matcher, then
             reverse_proxy to the upstream, behind forward auth when asked);
             tls: how certificates are got (tls internal or acme); pki: the
             internal CA, never installed into the container's trust store

With a DNS provider (ACME's DNS-01 challenge), its fields (an API token, say) are in
the config as Caddy reads them, a file in the front door's volume on the server;
tomo's own copy is sealed. The image must hold the module `dns.providers.<name>`.

A private ACME CA's root (`acme_ca_root`) is a file in the volume beside the config
(FrontDoor.apply puts it there first), named by its digest: a new root is a new
config, and Caddy reloads only a config that changed.

With tls off, the server listens on :80 with automatic HTTPS disabled: plain HTTP,
no certificate asked for. Otherwise it listens on :443 and Caddy's automatic HTTPS
gets a certificate for every routed name and answers :80 with a redirect.

The server speaks HTTP/1.1 and HTTP/2 only: the front door publishes TCP ports,
and an HTTP/3 offer (UDP) would send browsers to a port nobody forwards.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tomo.proxy.routes import ForwardAuth, FrontDoorConfig, Route, Upstream

ADMIN = "localhost:2019"
DATA = "/data"  # the volume's mount point in the container
STORAGE = f"{DATA}/caddy"
ROOT_CERTIFICATE = f"{STORAGE}/pki/authorities/local/root.crt"
SERVER = "tomo"  # the name of the one HTTP server in apps.http.servers
CA_NAME = "tomo front door"  # the internal root's name, as a trust store lists it

Json = dict[str, Any]


def caddy_config(config: FrontDoorConfig) -> Json:
    """The whole Caddy config for `config` (a pure function: same in, same out)."""
    apps: Json = {"http": {"servers": {SERVER: _server(config)}}}
    if config.tls != "off":
        apps["tls"] = {"automation": {"policies": [_tls_policy(config)]}}
        apps["pki"] = {"certificate_authorities": {"local": {
            "name": CA_NAME, "install_trust": False}}}  # fmt: skip
    return {
        "admin": {"listen": ADMIN},
        "storage": {"module": "file_system", "root": STORAGE},
        "apps": apps,
    }


def _server(config: FrontDoorConfig) -> Json:
    server: Json = {
        "listen": [":80" if config.tls == "off" else ":443"],
        "routes": [_route(route) for route in _most_specific_first(config.routes)],
        "protocols": ["h1", "h2"],
    }
    if config.tls == "off":
        server["automatic_https"] = {"disable": True}
    return server


def _most_specific_first(routes: tuple[Route, ...]) -> list[Route]:
    """Routes with exact names before wildcard ones: Caddy runs the first route that
    matches, and `photos.home.example` must not fall to `*.home.example`."""
    return sorted(routes, key=lambda route: route.wildcard)


def _tls_policy(config: FrontDoorConfig) -> Json:
    """Who signs the certificates of the routed names."""
    policy: Json = {"issuers": [_issuer(config)]}
    if config.hostnames:
        policy["subjects"] = sorted(config.hostnames)
    return policy


def _issuer(config: FrontDoorConfig) -> Json:
    if config.tls == "internal":
        return {"module": "internal"}
    issuer: Json = {"module": "acme"}
    if config.acme_ca is not None:
        issuer["ca"] = config.acme_ca
    if config.acme_email is not None:
        issuer["email"] = config.acme_email
    if config.acme_ca_root is not None:
        issuer["trusted_roots_pem_files"] = [f"{DATA}/{acme_root_file(config.acme_ca_root)}"]
    if config.dns_provider is not None:  # DNS-01 only: Caddy then tries no other challenge
        provider = {**config.dns_credentials, "name": config.dns_provider}
        issuer["challenges"] = {"dns": {"provider": provider}}
    return issuer


def acme_root_file(pem: str) -> str:
    """The name, in the volume, of the file that holds this ACME CA root."""
    return f"tomo-acme-root-{hashlib.sha256(pem.encode()).hexdigest()[:16]}.pem"


def _route(route: Route) -> Json:
    handle = [_proxy(route.upstream)] if route.auth is None else [_guarded(route)]
    return {"match": [{"host": list(route.hostnames)}], "handle": handle, "terminal": True}


def _proxy(upstream: Upstream) -> Json:
    proxy: Json = {"handler": "reverse_proxy", "upstreams": [{"dial": upstream.dial}]}
    if upstream.tls:
        # An app's own certificate is self-signed, made for a name of its choosing:
        # not checked. What could see the traffic is on the app's network only.
        proxy["transport"] = {"protocol": "http", "tls": {"insecure_skip_verify": True}}
    return proxy


def _guarded(route: Route) -> Json:
    """The app behind forward auth, its open paths first (one group: only the
    first matching route of a group runs)."""
    assert route.auth is not None
    group = "tomo-auth"
    routes: list[Json] = []
    if route.auth.open_paths:
        routes.append({"group": group, "match": [_open(route.auth)],
                       "handle": [*_unclaimed(route.auth), _proxy(route.upstream)]})  # fmt: skip
    routes.append({"group": group, "handle": [_ask(route.auth), _proxy(route.upstream)]})
    return {"handler": "subroute", "routes": routes}


def _open(auth: ForwardAuth) -> Json:
    """The paths nobody is asked about: the open ones, but for the closed ones."""
    matcher: Json = {"path": list(auth.open_paths)}
    if auth.closed_paths:
        matcher["not"] = [{"path": list(auth.closed_paths)}]
    return matcher


def _ask(auth: ForwardAuth) -> Json:
    """Caddy's forward_auth in JSON: a reverse_proxy to the login service with GET
    and its own URI; a 2xx answer runs `handle_response`'s routes (copying the
    headers into the request) and the request goes on to the app; any other
    answer is the client's."""
    dial, uri, tls = auth.parts
    ask: Json = {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": dial}],
        "rewrite": {"method": "GET", "uri": uri},
        "headers": {"request": {"set": {
            "X-Forwarded-Method": ["{http.request.method}"],
            "X-Forwarded-Uri": ["{http.request.uri}"],
        }}},
        "handle_response": [{"match": {"status_code": [2]}, "routes": [_copied(auth)]}],
    }  # fmt: skip
    if tls:
        ask["transport"] = {"protocol": "http", "tls": {}}
    return ask


def _unclaimed(auth: ForwardAuth) -> list[Json]:
    """On an open path nobody was asked: a client's own `Remote-User` is dropped, so
    the app never takes it for the login service's word."""
    if not auth.copy_headers:
        return []
    return [{"handler": "headers", "request": {"delete": list(auth.copy_headers)}}]


def _copied(auth: ForwardAuth) -> Json:
    """Sets each copied header from the login service's answer: a client's own
    `Remote-User` is overwritten (empty when the answer has none), never believed."""
    headers = {name: [f"{{http.reverse_proxy.header.{name}}}"] for name in auth.copy_headers}
    if not headers:
        return {"handle": []}
    return {"handle": [{"handler": "headers", "request": {"set": headers}}]}
