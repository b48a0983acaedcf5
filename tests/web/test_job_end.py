"""How the job page says where an app answers once its job is done: at each name
its server's front door routes to it, then at each TCP port it publishes."""

from __future__ import annotations

from datetime import UTC, datetime

from tomo.deployment.schemas import InstallationPublic, JobPublic
from tomo.deployment.statuses import JobStatus
from tomo.servers.schemas import ServerPublic
from tomo.web.install import JobEnd

PUBLISHED = "192.0.2.1"  # TOMO_PUBLISH_ADDRESS: not loopback, so no hint about it


def ended(kind: str, status: JobStatus) -> JobPublic:
    return JobPublic.model_validate({
        "id": "j-1", "installation_id": "i-1", "server_id": "s-1", "installation_name": "photos",
        "app": "home/photos", "kind": kind, "status": status, "error": None,
        "created_at": None, "started_at": None, "ended_at": None, "steps": []})  # fmt: skip


def named(*hostnames: str) -> InstallationPublic:
    now = datetime.now(UTC)
    return InstallationPublic.model_validate({
        "id": "i-1", "server_id": "s-1", "name": "photos", "repo_id": "home", "app_id": "photos",
        "version": "1", "image": "photos:1", "status": "running", "status_message": None,
        "container_id": None, "ports": ["8080/tcp", "5353/udp"], "hostnames": list(hostnames),
        "containers": [], "config": {}, "operation": None, "created_at": now,
        "updated_at": now})  # fmt: skip


def server(tls_mode: str, http_port: int = 80, https_port: int = 443) -> ServerPublic:
    return ServerPublic.model_validate({
        "id": "s-1", "name": "nas", "host": "10.0.0.2", "port": 22, "username": "tomo",
        "auth_type": "key", "host_key_fingerprint": None, "trusted": True, "data_root": "/srv",
        "use_sudo": False, "status": "online", "last_error": None, "last_seen": None,
        "facts": None, "facts_at": None, "tls_mode": tls_mode, "proxy_http_port": http_port,
        "proxy_https_port": https_port})  # fmt: skip


def test_a_done_install_answers_at_its_names_first_then_at_its_ports() -> None:
    end = JobEnd.of(ended("install", JobStatus.DONE), named("photos.home.example", "p.lan"),
                    server("internal", https_port=8443), PUBLISHED)  # fmt: skip
    assert end.links == ["https://photos.home.example:8443/", "https://p.lan:8443/",
                         "http://10.0.0.2:8080"]  # fmt: skip
    assert end.other_ports == ["5353/udp"]


def test_names_are_plain_http_when_the_server_speaks_no_tls() -> None:
    end = JobEnd.of(ended("start", JobStatus.DONE), named("photos.home.example"),
                    server("off"), PUBLISHED)  # fmt: skip
    assert end.links[0] == "http://photos.home.example/"


def test_no_link_after_a_stop_or_a_failure() -> None:
    for job in (ended("stop", JobStatus.DONE), ended("install", JobStatus.FAILED)):
        assert JobEnd.of(job, named("photos.home.example"), server("internal"), "").links == []
