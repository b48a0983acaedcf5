"""The Caddy JSON config a FrontDoorConfig becomes (the shapes; tests/proxy/test_door.py
has Caddy run them)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.proxy.test_routes import root_pem
from tests.services import unavailable
from tomo.proxy.caddy import acme_root_file, caddy_config
from tomo.proxy.door import caddy_reason, not_reloaded
from tomo.proxy.routes import ForwardAuth, FrontDoorConfig, Route, Upstream

PHOTOS = Route(("photos.home.example", "pics.home.example"), Upstream("photos", 2342))
NOTES = Route(("notes.home.example",), Upstream("notes", 80))


def server(document: dict[str, Any]) -> dict[str, Any]:
    servers = document["apps"]["http"]["servers"]
    assert list(servers) == ["tomo"]
    return dict(servers["tomo"])


def test_internal_tls_routes_each_name_set_to_its_upstream() -> None:
    document = caddy_config(FrontDoorConfig(routes=(PHOTOS, NOTES)))

    assert document["admin"] == {"listen": "localhost:2019"}
    assert document["storage"] == {"module": "file_system", "root": "/data/caddy"}
    assert server(document) == {
        "listen": [":443"],
        "protocols": ["h1", "h2"],
        "routes": [
            {"match": [{"host": ["photos.home.example", "pics.home.example"]}],
             "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "photos:2342"}]}],
             "terminal": True},
            {"match": [{"host": ["notes.home.example"]}],
             "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "notes:80"}]}],
             "terminal": True},
        ],
    }  # fmt: skip
    assert document["apps"]["tls"] == {"automation": {"policies": [{
        "subjects": ["notes.home.example", "photos.home.example", "pics.home.example"],
        "issuers": [{"module": "internal"}],
    }]}}  # fmt: skip
    assert document["apps"]["pki"] == {"certificate_authorities": {"local": {
        "name": "tomo front door", "install_trust": False}}}  # fmt: skip


def test_acme_names_its_ca_and_email() -> None:
    config = FrontDoorConfig(tls="acme", acme_ca="https://ca.lan/acme/local/directory",
                             acme_email="admin@home.example", routes=(NOTES,))  # fmt: skip
    policies = caddy_config(config)["apps"]["tls"]["automation"]["policies"]

    assert policies == [{"subjects": ["notes.home.example"], "issuers": [{
        "module": "acme", "ca": "https://ca.lan/acme/local/directory",
        "email": "admin@home.example"}]}]  # fmt: skip
    plain = caddy_config(FrontDoorConfig(tls="acme", routes=(NOTES,)))
    assert plain["apps"]["tls"]["automation"]["policies"][0]["issuers"] == [{"module": "acme"}]


def test_a_dns_provider_is_acmes_only_challenge_with_its_fields() -> None:
    config = FrontDoorConfig(tls="acme", dns_provider="duckdns",
                             dns_credentials={"api_token": "t0ken"}, routes=(NOTES,))  # fmt: skip
    (issuer,) = caddy_config(config)["apps"]["tls"]["automation"]["policies"][0]["issuers"]
    assert issuer == {"module": "acme", "challenges": {"dns": {"provider": {
        "name": "duckdns", "api_token": "t0ken"}}}}  # fmt: skip


def test_caddy_without_the_dns_module_names_it_and_the_door_says_how_to_get_one(
    tmp_path: Path,
) -> None:
    """Debian's Caddy holds no DNS provider: `caddy validate` provisions the ACME issuer
    as far as the provider's module (the shape is Caddy's), then refuses it by name;
    the front door turns that into what to do."""
    caddy = shutil.which("caddy")
    if caddy is None:
        unavailable("caddy is not installed (apt-get install caddy)")
    config = FrontDoorConfig(tls="acme", dns_provider="cloudflare",
                             dns_credentials={"api_token": "t0ken"}, routes=(NOTES,))  # fmt: skip
    document = caddy_config(config)
    document["storage"]["root"] = str(tmp_path / "storage")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    done = subprocess.run([caddy, "validate", "--config", str(path)], capture_output=True,
                          text=True, check=False, timeout=60)  # fmt: skip
    assert done.returncode != 0
    reason = caddy_reason(done.stderr)
    assert reason.endswith("loading DNS provider module: loading module 'cloudflare': "
                           "unknown module: dns.providers.cloudflare"), reason  # fmt: skip
    said = not_reloaded(reason)
    assert said.startswith("the front door's image has no DNS provider module "
                           "dns.providers.cloudflare, so Caddy kept the config it ran")  # fmt: skip
    assert "github.com/caddy-dns/cloudflare" in said and "TOMO_PROXY_IMAGE" in said


def test_a_private_cas_root_is_a_file_in_the_volume_named_by_its_digest() -> None:
    root, other = root_pem(), root_pem("Other")
    config = FrontDoorConfig(tls="acme", acme_ca="https://ca.lan/acme/local/directory",
                             acme_ca_root=root, routes=(NOTES,))  # fmt: skip
    issuer = caddy_config(config)["apps"]["tls"]["automation"]["policies"][0]["issuers"][0]

    name = acme_root_file(root)
    assert issuer["trusted_roots_pem_files"] == [f"/data/{name}"]
    assert re.fullmatch(r"tomo-acme-root-[0-9a-f]{16}\.pem", name)
    # Another root is another config: Caddy reloads only a config that changed.
    assert acme_root_file(other) != name
    assert acme_root_file(root) == name


def test_tls_off_listens_on_80_without_automatic_https() -> None:
    document = caddy_config(FrontDoorConfig(tls="off", routes=(NOTES,)))

    assert server(document)["listen"] == [":80"]
    assert server(document)["automatic_https"] == {"disable": True}
    assert set(document["apps"]) == {"http"}


def test_no_routes_yet_is_a_server_with_none_and_a_catch_all_policy() -> None:
    document = caddy_config(FrontDoorConfig())

    assert server(document)["routes"] == []
    assert document["apps"]["tls"]["automation"]["policies"] == [
        {"issuers": [{"module": "internal"}]}
    ]


def test_exact_names_are_matched_before_a_wildcard() -> None:
    everything = Route(("*.home.example",), Upstream("catchall", 80), wildcard=True)
    routes = server(caddy_config(FrontDoorConfig(routes=(everything, NOTES))))["routes"]

    assert [r["match"][0]["host"] for r in routes] == [["notes.home.example"], ["*.home.example"]]


def test_forward_auth_asks_first_and_leaves_the_open_paths_alone() -> None:
    auth = ForwardAuth("http://tomo:8420/api/auth/forward", ("/api/*", "/share/*"),
                       ("Remote-User", "Remote-Role"))  # fmt: skip
    route = Route(("notes.home.example",), Upstream("notes", 80), auth=auth)
    handle = server(caddy_config(FrontDoorConfig(routes=(route,))))["routes"][0]["handle"]
    app = {"handler": "reverse_proxy", "upstreams": [{"dial": "notes:80"}]}

    assert handle == [{"handler": "subroute", "routes": [
        {"group": "tomo-auth", "match": [{"path": ["/api/*", "/share/*"]}], "handle": [
            {"handler": "headers", "request": {"delete": ["Remote-User", "Remote-Role"]}},
            app]},
        {"group": "tomo-auth", "handle": [{
            "handler": "reverse_proxy",
            "upstreams": [{"dial": "tomo:8420"}],
            "rewrite": {"method": "GET", "uri": "/api/auth/forward"},
            "headers": {"request": {"set": {
                "X-Forwarded-Method": ["{http.request.method}"],
                "X-Forwarded-Uri": ["{http.request.uri}"]}}},
            "handle_response": [{"match": {"status_code": [2]}, "routes": [{"handle": [
                {"handler": "headers", "request": {"set": {
                    "Remote-User": ["{http.reverse_proxy.header.Remote-User}"],
                    "Remote-Role": ["{http.reverse_proxy.header.Remote-Role}"]}}}]}]}],
        }, app]},
    ]}]  # fmt: skip


def test_forward_auth_over_https_speaks_tls_to_the_login_service() -> None:
    route = Route(("a.lan",), Upstream("a", 80), auth=ForwardAuth("https://tomo.lan/check"))
    subroute = server(caddy_config(FrontDoorConfig(routes=(route,))))["routes"][0]["handle"][0]
    ask = subroute["routes"][0]["handle"][0]

    assert len(subroute["routes"]) == 1  # no open paths
    assert ask["upstreams"] == [{"dial": "tomo.lan:443"}]
    assert ask["transport"] == {"protocol": "http", "tls": {}}
    assert ask["handle_response"][0]["routes"] == [{"handle": []}]


SECURE = Route(("unifi.home.example",), Upstream("unifi", 8443, tls=True))


def test_an_app_whose_port_speaks_https_is_reached_over_tls_unchecked() -> None:
    (route,) = server(caddy_config(FrontDoorConfig(routes=(SECURE,))))["routes"]

    assert route["handle"] == [{
        "handler": "reverse_proxy", "upstreams": [{"dial": "unifi:8443"}],
        "transport": {"protocol": "http", "tls": {"insecure_skip_verify": True}},
    }]  # fmt: skip


def test_caddy_itself_takes_every_shape(tmp_path: Path) -> None:
    """`caddy validate` (Debian's binary, when here) provisions each module: a shape
    Caddy would refuse fails here, not on a server."""
    caddy = shutil.which("caddy")
    if caddy is None:
        unavailable("caddy is not installed (apt-get install caddy)")
    auth = ForwardAuth("https://tomo.lan/check", ("/api/*",), ("Remote-User",))
    configs = [
        FrontDoorConfig(routes=(PHOTOS, Route(("a.lan",), Upstream("a", 80), auth=auth))),
        FrontDoorConfig(tls="acme", acme_ca="https://ca.lan/dir", acme_email="a@b.lan",
                        routes=(NOTES,)),
        FrontDoorConfig(tls="off", routes=(NOTES, SECURE)),
        FrontDoorConfig(tls="acme", acme_ca="https://ca.lan/dir", acme_ca_root=root_pem(),
                        routes=(NOTES,)),
    ]  # fmt: skip
    for index, config in enumerate(configs):
        document = caddy_config(config)
        document["storage"]["root"] = str(tmp_path / "storage")  # not /data, here
        if config.acme_ca_root is not None:  # Caddy reads it: here, as FrontDoor.apply would
            root = tmp_path / "root.pem"
            root.write_text(config.acme_ca_root)
            issuer = document["apps"]["tls"]["automation"]["policies"][0]["issuers"][0]
            issuer["trusted_roots_pem_files"] = [str(root)]
        path = tmp_path / f"config-{index}.json"
        path.write_text(json.dumps(document))
        done = subprocess.run([caddy, "validate", "--config", str(path)], capture_output=True,
                              text=True, check=False, timeout=60)  # fmt: skip
        assert done.returncode == 0, (config.tls, done.stderr[-500:])


def test_caddys_reason_is_read_from_what_reload_printed() -> None:
    printed = (
        '{"level":"info","msg":"using provided configuration"}\n'
        "Error: sending configuration to instance: caddy responded with error: HTTP 400: "
        '{"error":"loading config: loading module \'nope\': unknown module: http.handlers.nope"}\n'
    )
    assert caddy_reason(printed) == (
        "loading config: loading module 'nope': unknown module: http.handlers.nope"
    )
    assert caddy_reason("Error: dial tcp [::1]:2019: connect: connection refused\n") == (
        "dial tcp [::1]:2019: connect: connection refused"
    )
    assert caddy_reason("") == "no output"
