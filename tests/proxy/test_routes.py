"""The front door's model: every bad value refused at once, each naming its field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tomo.errors import HostnameTaken, InvalidInput
from tomo.proxy.routes import (
    ForwardAuth,
    FrontDoorConfig,
    Route,
    Upstream,
    hostname_problem,
)

APP = Upstream("photos", 80)


def refused(**fields: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        FrontDoorConfig(**fields)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize(
    "name",
    ["photos.home.example", "a.lan", "lan", "x-1.b2.example", "1password.example",
     "a" * 63 + ".example", ".".join(["a" * 61] * 4)],
)  # fmt: skip
def test_rfc_1123_names_pass(name: str) -> None:
    assert len(name) <= 253
    assert hostname_problem(name) == ""


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "is empty"),
        ("Photos.lan", "must be lowercase"),
        ("photos.lan.", "must not end with a dot"),
        ("a..lan", "has an empty label"),
        (".lan", "has an empty label"),
        ("-a.lan", "starts or ends with a hyphen (-a)"),
        ("a-.lan", "starts or ends with a hyphen (a-)"),
        ("a_b.lan", "only letters, digits, hyphens and dots (a_b)"),
        ("a b.lan", "only letters, digits, hyphens and dots (a b)"),
        ("b" * 64 + ".lan", "a label of 64 characters"),
        (".".join(["a" * 62] * 4) + ".ab", "is 254 characters long"),
        ("10.0.0.1", "ends in a number: that is an IP address"),
        ("*.home.example", "is a wildcard, and this route does not ask for one"),
        ("a.*.example", "only as its whole first label"),
        ("pho*tos.lan", "only as its whole first label"),
    ],
)
def test_bad_names_are_refused_with_the_reason(name: str, problem: str) -> None:
    assert problem in hostname_problem(name)


def test_a_wildcard_passes_only_where_a_route_asks_for_one() -> None:
    assert hostname_problem("*.home.example", wildcard=True) == ""
    assert "whole top-level domain" in hostname_problem("*.lan", wildcard=True)
    FrontDoorConfig(routes=(Route(("*.home.example",), APP, wildcard=True),))


def test_every_problem_is_refused_at_once_each_naming_its_field() -> None:
    error = refused(routes=(
        Route(("ok.lan", "Bad.lan"), APP),
        Route((), Upstream("no/slash", 0)),
        Route(("ok2.lan", "ok2.lan"), APP),
    ))  # fmt: skip

    assert [(p.fields, p.text) for p in error.problems] == [
        (("routes[0].hostnames[1]",), "hostname 'Bad.lan' must be lowercase"),
        (("routes[1].hostnames",), "a route needs at least one hostname"),
        (("routes[1].upstream.container",),
         "'no/slash' is not a container name (letters, digits, '_', '.', '-'; up to 128)"),
        (("routes[1].upstream.port",), "port 0 is not between 1 and 65535"),
        (("routes[2].hostnames[1]",), "hostname 'ok2.lan' is listed twice in this route"),
    ]  # fmt: skip
    assert error.problems[0].suggestion == "bad.lan"


def test_a_name_in_two_routes_is_refused_naming_both_upstreams() -> None:
    with pytest.raises(HostnameTaken) as caught:
        FrontDoorConfig(routes=(
            Route(("photos.lan",), APP),
            Route(("other.lan", "photos.lan"), Upstream("immich", 2283)),
        ))  # fmt: skip

    error = caught.value
    assert error.message == (
        "photos.lan is routed to photos:80 already; it cannot also go to immich:2283 "
        "(choose another hostname, or remove the other route)"
    )
    assert error.problems[0].fields == ("routes[1].hostnames[1]",)
    assert (error.http_status, error.upstreams) == (409, ("photos:80", "immich:2283"))


def test_tls_and_acme_settings_are_checked() -> None:
    assert [p.fields for p in refused(tls="sometimes").problems] == [("tls",)]
    error = refused(tls="internal", acme_ca="https://ca.example/dir", acme_email="me@x.lan")
    assert [p.text for p in error.problems] == [
        "acme_ca is used only with tls acme (not internal)",
        "acme_email is used only with tls acme (not internal)",
    ]
    error = refused(tls="acme", acme_ca="http://ca.example/dir", acme_email="nobody")
    assert [(p.fields, p.text) for p in error.problems] == [
        (("acme_ca",), "'http://ca.example/dir' is not an https URL with a host"),
        (("acme_email",), "'nobody' is not an email address"),
    ]
    wildcard = Route(("*.home.example",), APP, wildcard=True)
    error = refused(tls="acme", routes=(wildcard,))
    assert "HTTP-01 challenge cannot prove one" in error.message
    assert refused(base_domain="Home.example").problems[0].fields == ("base_domain",)


def test_a_dns_provider_is_checked_and_lets_a_wildcard_be_proven() -> None:
    token = {"api_token": "s3cret-token"}
    error = refused(tls="internal", dns_provider="cloudflare", dns_credentials=token)
    assert [(p.fields, p.text) for p in error.problems] == [
        (("dns_provider",), "dns_provider is used only with tls acme (not internal)")
    ]
    error = refused(tls="acme", dns_provider="Cloud-Flare")
    assert [p.fields for p in error.problems] == [("dns_provider",), ("dns_credentials",)]
    assert "the last part of a Caddy module dns.providers.NAME" in error.problems[0].text
    assert "needs its credentials" in error.problems[1].text
    error = refused(tls="acme", dns_provider="cloudflare",
                    dns_credentials={"API token": "x", "name": "y", "zone": "\n"})  # fmt: skip
    assert [p.text.split(" (")[0] for p in error.problems] == [
        "'API token' is not a field of a DNS provider",
        "'name' is not a field of a DNS provider",
        "the value of zone is empty, too long or holds a control character",
    ]
    assert refused(dns_credentials=token).problems[0].fields == ("dns_credentials",)
    assert all("s3cret" not in p.text for p in refused(tls="internal", dns_provider="x",
                                                        dns_credentials=token).problems)  # fmt: skip

    wildcard = Route(("*.home.example",), APP, wildcard=True)
    FrontDoorConfig(tls="acme", dns_provider="cloudflare", dns_credentials=token,
                    routes=(wildcard,))  # DNS-01 proves a wildcard: no refusal  # fmt: skip
    assert "s3cret" not in repr(FrontDoorConfig(tls="acme", dns_provider="cloudflare",
                                                dns_credentials=token))  # fmt: skip


def root_pem(name: str = "Test Root") -> str:
    """A self-signed CA certificate, as a private ACME CA's root is."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_an_acme_ca_root_is_one_or_more_pem_certificates_with_tls_acme() -> None:
    root = root_pem()
    assert FrontDoorConfig(tls="acme", acme_ca_root=root).acme_ca_root == root
    assert FrontDoorConfig(tls="acme", acme_ca_root=root + root_pem("Other")).acme_ca_root
    error = refused(tls="internal", acme_ca_root=root)
    assert [(p.fields, p.text) for p in error.problems] == [
        (("acme_ca_root",), "acme_ca_root is used only with tls acme (not internal)")
    ]
    cut = root[:200] + "\n-----END CERTIFICATE-----\n"
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()  # fmt: skip
    for pem, said in [
        ("a root", "holds no PEM certificate"),
        (cut, "holds a PEM certificate that cannot be read"),
        (root + key, "holds a private key: give only the CA's root certificate"),
        (root * 200, "a CA's root certificate has at most 65536"),
    ]:
        problems = refused(tls="acme", acme_ca_root=pem).problems
        assert [p.fields for p in problems] == [("acme_ca_root",)]
        assert problems[0].text.startswith("acme_ca_root ") and said in problems[0].text


def test_forward_auth_is_checked_and_split_for_caddy() -> None:
    auth = ForwardAuth("https://tomo.lan:8420/api/auth/forward?role=admin", ("/api/*",),
                       ("Remote-User",))  # fmt: skip
    assert auth.parts == ("tomo.lan:8420", "/api/auth/forward?role=admin", True)
    assert ForwardAuth("http://[fd00::1]/check").parts == ("[fd00::1]:80", "/check", False)
    bad = ForwardAuth("ftp://tomo.lan/x", ("api/*", "/a b"), ("Remote User",))
    error = refused(routes=(Route(("a.lan",), APP, auth=bad),))
    assert [p.fields[0] for p in error.problems] == [
        "routes[0].auth.url", "routes[0].auth.open_paths[0]", "routes[0].auth.open_paths[1]",
        "routes[0].auth.copy_headers[0]",
    ]  # fmt: skip
    error = refused(routes=(Route(("a.lan",), APP, auth=ForwardAuth("http://u:p@tomo.lan/")),))
    assert "must hold no user, password or #fragment" in error.message
    error = refused(routes=(Route(("a.lan",), APP, auth=ForwardAuth("http://tomo.lan:99999/")),))
    assert "is not a URL" in error.message


def test_the_default_hostname_is_the_installation_under_the_base_domain() -> None:
    assert FrontDoorConfig(base_domain="home.example").default_hostname("Photos") == (
        "photos.home.example"
    )
    with pytest.raises(InvalidInput) as caught:
        FrontDoorConfig().default_hostname("photos")
    assert caught.value.problems[0].fields == ("base_domain",)
    with pytest.raises(InvalidInput) as caught:
        FrontDoorConfig(base_domain="lan").default_hostname("my_photos")
    assert caught.value.problems[0].fields == ("hostname",)
    assert "(my_photos)" in caught.value.message


@pytest.mark.parametrize("name", ["localhost", "api.localhost", "127.0.0.1", "127.1.2.3"])
def test_the_front_doors_own_loopback_is_never_an_upstream(name: str) -> None:
    """Caddy's admin API listens there: a route to it would open it to anyone."""
    error = refused(routes=(Route(("a.lan",), Upstream(name, 2019)),))
    assert error.problems[0].fields == ("routes[0].upstream.container",)
    assert "is the front door's own container" in error.message
    auth = ForwardAuth(f"http://{name}:2019/config/")
    error = refused(routes=(Route(("a.lan",), APP, auth=auth),))
    assert error.problems[0].fields == ("routes[0].auth.url",)
