"""The personal catalog: compose files of the user's as apps (real git repository,
real SQLite and PostgreSQL). Installing one is in tests/deployment/test_cli.py."""

from __future__ import annotations

import pytest

from tomo.errors import InvalidInput
from tomo.marketplace.schemas import PersonalAppCreate
from tomo.runtime import Runtime

SITE = """services:
  web:
    image: nginx:1.27
    ports: ["8080:80"]
    volumes: ["./html:/usr/share/nginx/html"]
    environment:
      TZ: ${TZ:-UTC}
    privileged: true
"""


async def test_a_compose_file_becomes_an_app_of_the_personal_catalog(runtime: Runtime) -> None:
    added = await runtime.marketplace.add_personal_app(PersonalAppCreate(name="site", compose=SITE))

    assert (added.app, added.not_installable) == ("personal/site", None)
    app = await runtime.marketplace.get_app("personal/site")
    assert (app.docker.image, app.risks) == ("nginx:1.27", ["privileged"])
    assert [s.name for s in app.settings] == ["TZ"]
    repo = await runtime.marketplace.get_repo("personal")
    assert (repo.name, repo.format, repo.app_count) == ("Personal apps", "casaos", 1)

    again = SITE.replace("nginx:1.27", "nginx:1.28")
    await runtime.marketplace.add_personal_app(PersonalAppCreate(name="site", compose=again))
    assert (await runtime.marketplace.get_app("personal/site")).docker.image == "nginx:1.28"
    assert (await runtime.marketplace.get_repo("personal")).app_count == 1


@pytest.mark.parametrize(
    ("name", "compose", "field", "words"),
    [
        ("Not A Name", SITE, "name", "is not a name a personal app can have"),
        ("site", "services: [web]\n", "compose", "the compose file: "),
        ("site", "services:\n  web:\n    ports: ['80']\n", "compose",
         "services.web.image: is required"),
        ("site", "a: [unclosed\n", "compose", "invalid YAML"),
    ],
)  # fmt: skip
async def test_what_cannot_be_an_app_is_refused_and_adds_nothing(
    runtime: Runtime, name: str, compose: str, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await runtime.marketplace.add_personal_app(PersonalAppCreate(name=name, compose=compose))
    (problem,) = refused.value.problems
    assert problem.fields == (field,) and words in problem.text
    assert "personal" not in [repo.id for repo in await runtime.marketplace.list_repos()]
    assert not (runtime.settings.data_dir / "personal-catalog").exists()


async def test_a_docker_run_line_becomes_an_app_the_same_way(runtime: Runtime) -> None:
    line = "docker run -d --name web -p 8080:80 -e TZ=UTC --restart always nginx:1.27"
    added = await runtime.marketplace.add_personal_app(PersonalAppCreate(name="web", run=line))
    app = await runtime.marketplace.get_app(added.app)
    assert (app.docker.image, app.docker.restart_policy) == ("nginx:1.27", "always")
    assert [(p.host, p.container) for p in app.docker.ports] == [(8080, 80)]

    with pytest.raises(InvalidInput) as refused:
        await runtime.marketplace.add_personal_app(
            PersonalAppCreate(name="bad", run="docker run --env-file .env nginx:1.27"))  # fmt: skip
    assert refused.value.problems[0].fields == ("run",)


def test_a_request_gives_one_of_compose_and_run() -> None:
    with pytest.raises(ValueError, match="either a compose file or a docker run command"):
        PersonalAppCreate(name="x", compose="services: {}", run="docker run x")
