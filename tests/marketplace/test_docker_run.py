"""A `docker run …` line as the compose file that runs the same container (pure)."""

from __future__ import annotations

import pytest
import yaml

from tomo.marketplace.docker_run import compose_of_run
from tomo.marketplace.personal import read_personal_app


def service_of(line: str) -> dict[str, object]:
    return yaml.safe_load(compose_of_run(line, "app"))["services"]["app"]


def test_every_option_becomes_its_compose_key() -> None:
    line = (
        "docker run -d --rm -it --name=jf -p 8096:8096 -p 127.0.0.1:7359:7359/udp "
        "-v /srv/media:/media:ro --volume cache:/cache -e TZ=Europe/Paris --env PUID "
        "--restart unless-stopped --network host --device /dev/dri:/dev/dri --cap-add NET_ADMIN "
        "--gpus all --user 1000:1000 -w /srv --entrypoint /init --stop-timeout 30 "
        "--health-cmd 'curl -f localhost:8096' --health-interval 30s "
        "--mount type=bind,source=/srv/config,target=/config,readonly "
        "jellyfin/jellyfin:10.9 --ffmpeg /usr/lib/ffmpeg"
    )
    assert service_of(line) == {
        "image": "jellyfin/jellyfin:10.9", "command": ["--ffmpeg", "/usr/lib/ffmpeg"],
        "entrypoint": ["/init"], "restart": "unless-stopped", "network_mode": "host",
        "user": "1000:1000", "working_dir": "/srv", "gpus": "all",
        "ports": ["8096:8096", "127.0.0.1:7359:7359/udp"],
        "volumes": ["/srv/media:/media:ro", "cache:/cache",
                    {"type": "bind", "target": "/config", "source": "/srv/config",
                     "read_only": "true"}],
        "environment": ["TZ=Europe/Paris", "PUID"], "cap_add": ["NET_ADMIN"],
        "devices": ["/dev/dri:/dev/dri"], "stop_grace_period": "30s",
        "healthcheck": {"test": ["CMD-SHELL", "curl -f localhost:8096"], "interval": "30s"},
    }  # fmt: skip


def test_limits_and_options_reach_the_definition() -> None:
    line = ("docker run -m 1g --memory-reservation 128m --cpus 2 --shm-size 256m --init "
            "--ulimit nofile=1024:4096 --ulimit core=0 --add-host gw.lan:host-gateway "
            "--tmpfs /run:size=8m busybox:1.36")  # fmt: skip
    docker = read_personal_app("box", compose_of_run(line, "box")).definition.docker
    assert (docker.mem_limit, docker.mem_reservation, docker.cpus, docker.shm_size) == (
        1 << 30, 128 << 20, 2, 256 << 20)  # fmt: skip
    assert docker.init is True
    assert docker.ulimits == {"nofile": [1024, 4096], "core": [0, 0]}
    assert (docker.extra_hosts, docker.tmpfs) == ({"gw.lan": "host-gateway"}, ["/run:size=8m"])


def test_a_continued_line_and_docker_container_run_are_read_too() -> None:
    assert service_of("docker container run \\\n  -p 80:80 \\\n  nginx:1.27") == {
        "image": "nginx:1.27", "ports": ["80:80"],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("docker ps", "it does not start with 'docker run'"),
        ("docker run -p 80:80", "no image"),
        ("docker run --frobnicate nginx", "--frobnicate: not a docker run option tomo reads"),
        ("docker run --env-file ./.env nginx", "--env-file: names a file on the machine"),
        ("docker run 'nginx", "cannot be split into words"),
        ("docker run --mount type=tmpfs,target=/x nginx", "tomo reads bind and volume mounts"),
        ("docker run -p", "expected one argument"),
    ],
)
def test_what_cannot_be_read_is_said(line: str, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        compose_of_run(line, "app")
