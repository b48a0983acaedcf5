"""The certificates a front door holds, read from a tar of Caddy's storage as
`docker container cp` gives it (the real thing: tests/proxy/test_service.py)."""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tomo.proxy.door import HeldCertificate, held_certificates

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def certificate(name: str, days: int) -> bytes:
    """A self-signed certificate for `name`, valid `days` from NOW (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    made = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW).not_valid_after(NOW + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return made.public_bytes(serialization.Encoding.PEM)


def storage(files: dict[str, bytes]) -> bytes:
    """A tar as `docker container cp tomo-proxy:/data/caddy/certificates -` writes."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for path, content in files.items():
            member = tarfile.TarInfo(path)
            member.size = len(content)
            tar.addfile(member, io.BytesIO(content))
    return out.getvalue()


def test_each_names_certificate_is_read_with_its_issuer_and_expiry() -> None:
    archive = storage({
        "certificates/local/web.test.lan/web.test.lan.crt": certificate("web.test.lan", 7),
        "certificates/local/web.test.lan/web.test.lan.key": b"not read",
        "certificates/acme.example-directory/a.example/a.example.crt": certificate("a", 90),
        "certificates/local/bad.lan/bad.lan.crt": b"not a certificate",
        "certificates/local/odd/other.crt": certificate("odd", 1),
    })  # fmt: skip
    assert held_certificates(archive) == {
        "web.test.lan": HeldCertificate("internal", NOW + timedelta(days=7)),
        "a.example": HeldCertificate("acme", NOW + timedelta(days=90)),
    }


def test_storage_that_is_no_tar_holds_nothing() -> None:
    assert held_certificates(b"no tar") == {}
