"""A sync's report read at a glance: counts, apps not installable with their commonest
reasons, errors, and warnings grouped by kind (one line each, a few examples), with
every line kept; reports stored by earlier versions group the same way."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from tests.gitrepo import CatalogRepo
from tests.marketplace.test_sync import subscribe
from tomo.marketplace.models import MarketplaceRepo
from tomo.marketplace.report import Line, group_lines, parts_of
from tomo.marketplace.schemas import ProblemKind
from tomo.runtime import Runtime

CONTAINER_NAME = "container_name: not supported, ignored (tomo names containers itself)"
BUILD = "build: not supported (tomo pulls images; it does not build them)"
ENV_FILE = "env_file: ./.env is not a file the store ships with the app"


def casaos_app(name: str, extra: str = "") -> str:
    """A CasaOS app whose one service names its container (a harmless note), with
    `extra` keys of the service."""
    return (f"name: {name}\nservices:\n  {name}:\n    image: example/{name}:1.0\n"
            f"    container_name: {name}\n{extra}"
            f"x-casaos:\n  main: {name}\n  title:\n    en_us: {name.title()}\n")  # fmt: skip


def noisy_casaos_catalog(make_repo: Any, count: int = 200) -> CatalogRepo:
    """`count` apps, each with the same note; three that build (not installable), two
    of which read an env file too; two files that are no compose file."""
    repo: CatalogRepo = make_repo()
    for index in range(count):
        name = f"app{index:03d}"
        extra = ""
        if index < 3:
            extra = "    build: .\n" + ("    env_file: .env\n" if index < 2 else "")
        repo.write(f"Apps/{name}/docker-compose.yml", casaos_app(name, extra))
    for name in ("broken1", "broken2"):
        repo.write(f"Apps/{name}/docker-compose.yml", "services: []\n")
    repo.commit("a noisy store")
    return repo


async def test_a_noisy_catalog_sums_up_in_a_line_per_kind(runtime: Runtime, make_repo) -> None:
    repo_id = await subscribe(runtime, noisy_casaos_catalog(make_repo))

    report = await runtime.marketplace.sync_repo(repo_id)

    assert (report.app_count, report.added, report.unchanged) == (200, 200, 0)
    assert len(report.warnings) == 200  # every line kept
    assert report.summary.warnings == [ProblemKind(
        kind=CONTAINER_NAME, count=200,
        examples=[f"Apps/app00{i}/docker-compose.yml" for i in range(3)],
    )]  # fmt: skip
    assert [a.app for a in report.not_installable or []] == ["app000", "app001", "app002"]
    assert report.summary.not_installable == [
        ProblemKind(kind=BUILD, count=3, examples=["app000", "app001", "app002"]),
        ProblemKind(kind=ENV_FILE, count=2, examples=["app000", "app001"]),
    ]
    assert [(k.kind, k.count) for k in report.summary.errors] == [
        ("not a compose file: 'services' must map service names to services", 2)
    ]


async def test_the_stored_report_and_an_unchanged_sync_say_the_same(
    runtime: Runtime, make_repo
) -> None:
    repo_id = await subscribe(runtime, noisy_casaos_catalog(make_repo, count=10))
    first = await runtime.marketplace.sync_repo(repo_id)

    again = await runtime.marketplace.sync_repo(repo_id)
    stored = (await runtime.marketplace.get_repo(repo_id)).last_report

    assert again.status == "unchanged" and (again.added, again.unchanged) == (0, 10)
    assert stored is not None
    for report in (again, stored):
        assert report.not_installable == first.not_installable
        assert report.summary == first.summary


async def test_a_report_stored_by_an_earlier_tomo_still_sums_up(
    runtime: Runtime, make_repo
) -> None:
    repo_id = await subscribe(runtime, noisy_casaos_catalog(make_repo, count=4))
    old = {  # as tomo stored reports before it counted apps it cannot install
        "repo_id": repo_id, "status": "synced", "commit": "0" * 40, "app_count": 4,
        "added": 4, "updated": 0, "removed": 0, "parser": 3,
        "errors": [{"path": "apps/x.yaml", "message": "invalid YAML, line 2: oops"}],
        "warnings": [{"path": f"apps/{n}.yaml", "message": "licence: unknown key, ignored "
                      "(did you mean 'license'?); id 'x' differs from the file name; the "
                      f"catalog expects apps/{n}.yaml"} for n in ("a", "b")],
    }  # fmt: skip
    async with runtime.db.session() as session, session.begin():
        await session.execute(
            update(MarketplaceRepo).where(MarketplaceRepo.id == repo_id).values(last_report=old)
        )

    report = (await runtime.marketplace.get_repo(repo_id)).last_report

    assert report is not None and report.not_installable is None
    assert report.summary.not_installable is None
    assert [(k.kind, k.count) for k in report.summary.warnings] == [
        ("id '…' differs from the file name; the catalog expects …", 2),
        ("licence: unknown key, ignored (did you mean 'license'?)", 2),
    ]


def test_a_joined_message_splits_into_whole_problems() -> None:
    joined = ("services.web.build: not supported (tomo pulls images; it does not build them); "
              "services.web.ports[0]: publishes 40 ports (tomo publishes ranges of at most 16); "
              "categories: more than 8; the first 8 kept; id 'Odd' is not a valid tomo id; "
              "listed as 'odd'")  # fmt: skip
    assert parts_of(joined) == [
        "services.web.build: not supported (tomo pulls images; it does not build them)",
        "services.web.ports[0]: publishes 40 ports (tomo publishes ranges of at most 16)",
        "categories: more than 8; the first 8 kept",
        "id 'Odd' is not a valid tomo id; listed as 'odd'",
    ]


def test_what_differs_between_apps_is_left_out_of_the_kind() -> None:
    lines = [
        Line("a", "docker-compose.yml: services.a.volumes[1]: '/home/a' is in a user's home"),
        Line("b", "docker-compose.yml: services.db.volumes[0]: '/home/b' is in a user's home"),
        Line("c", "services.c.sysctls.kernel.panic: 'kernel.panic' is not a parameter"),
        Line("d", "services.d.environment.API_KEY: ${API_KEY} would not be replaced"),
        Line("e", "services.e.environment.TOKEN: ${TOKEN} would not be replaced"),
    ]
    groups = group_lines(lines)
    assert [(g.kind, g.count) for g in groups] == [
        ("environment.…: ${…} would not be replaced", 2),
        ("volumes: '…' is in a user's home", 2),
        ("sysctls.…: 'kernel.panic' is not a parameter", 1),
    ]
    assert [line.message for line in groups[1].lines] == [lines[0].message, lines[1].message]
