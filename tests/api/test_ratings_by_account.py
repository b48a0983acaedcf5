"""A rating belongs to an account, not to its name: an account removed takes its
ratings with it (the averages counted again), and a new account that takes the
name inherits nothing. On both backends, through the real app; the migration that
moves name-keyed ratings to accounts keeps those it can match."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from tests.api.conftest import Api, As, token_of
from tests.gitrepo import CatalogRepo
from tests.web.conftest import Page, text_of
from tomo.config import Settings
from tomo.db import Database
from tomo.marketplace.schemas import RepoCreate
from tomo.runtime import Runtime

APP = "/api/marketplace/apps/home/hello"
PASSWORD = "bob's password 1"


def catalog(api: Api, make_repo) -> None:
    repo: CatalogRepo = make_repo()
    repo.add_app("hello")
    repo.commit()

    async def add(runtime: Runtime) -> None:
        added = await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="home", id="home"))
        await runtime.marketplace.sync_repo(added.id)

    api.run(add)


def new_bob(api: Api) -> As:
    made = api.admin.post("/api/users", json={"username": "bob", "password": PASSWORD})
    assert made.status_code == 201, made.text
    return As(api.anonymous, token_of(api.anonymous, "bob", PASSWORD))


def rate(user: As, stars: int) -> dict[str, Any]:
    answer = user.put(f"{APP}/rating", json={"rating": stars})
    assert answer.status_code == 200, answer.text
    rated: dict[str, Any] = answer.json()
    return rated


def totals(api: Api) -> tuple[float, int]:
    app = api.admin.get(APP).json()
    return app["avg_rating"], app["rating_count"]


def own_rating_shown(api: Api) -> bool:
    """Whether the app's page, as bob sees it, says he rated it."""
    page = Page(api.anonymous)
    page.log_in("bob", PASSWORD)
    return "You gave it" in text_of(page.get("/apps/home/hello"))


def test_a_new_account_under_an_old_name_inherits_no_rating(api: Api, make_repo) -> None:
    catalog(api, make_repo)
    rate(api.admin, 4)
    first = rate(new_bob(api), 2)
    assert totals(api) == (3.0, 2) and own_rating_shown(api)

    assert api.admin.delete("/api/users/bob").status_code == 200
    assert totals(api) == (4.0, 1)  # his rating went with his account

    second_bob = new_bob(api)
    assert not own_rating_shown(api)
    second = rate(second_bob, 5)
    assert second["user_id"] != first["user_id"]  # two accounts, told apart
    assert (second["username"], second["rating_count"]) == ("bob", 2)
    assert totals(api) == (4.5, 2)


def test_removing_an_account_takes_only_its_own_ratings(api: Api, make_repo) -> None:
    """The admin's rating outlives another account's coming and going."""
    catalog(api, make_repo)
    rate(api.admin, 5)
    rate(new_bob(api), 1)
    api.admin.delete("/api/users/bob")

    assert totals(api) == (5.0, 1)
    assert api.admin.put(f"{APP}/rating", json={"rating": 3}).json()["rating_count"] == 1


def _insert(connection: Any, sql: str, **values: Any) -> None:
    connection.execute(text(sql), values)


async def test_the_migration_keys_ratings_by_account_and_drops_the_nameless(
    settings: Settings,
) -> None:
    """Ratings written by name (revision 0012) end keyed by the account whose name
    they name, case aside; those of no account are dropped; totals are counted again."""
    from alembic import command

    from tests.test_db import _alembic

    db = Database(settings)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(lambda c: command.upgrade(_alembic(c), "0012"))
            await connection.run_sync(_rows_of_an_older_tomo)
        await db.migrate()
        async with db.engine.connect() as connection:
            ratings = (await connection.execute(text(
                "SELECT user_id, rating FROM marketplace_ratings ORDER BY user_id"
            ))).all()  # fmt: skip
            app = (await connection.execute(text(
                "SELECT rating_sum, rating_count, avg_rating FROM marketplace_apps"
            ))).one()  # fmt: skip
        assert [tuple(row) for row in ratings] == [("id-alice", 5), ("id-bob", 2)]
        assert tuple(app) == (7, 2, 3.5)
    finally:
        await db.dispose()


def _rows_of_an_older_tomo(connection: Any) -> None:
    now, later = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)
    for user in ("alice", "bob"):
        _insert(connection, "INSERT INTO users (id, username, password_hash, role, created_at) "
                "VALUES (:id, :name, 'x', 'viewer', :now)", id=f"id-{user}", name=user, now=now)  # fmt: skip
    _insert(connection, "INSERT INTO marketplace_repos (id, name, url, branch, repo_type, "
            "enabled, status, app_count, created_at) VALUES ('r', 'R', 'https://x/y', 'main', "
            "'community', true, 'active', 1, :now)", now=now)  # fmt: skip
    _insert(connection, "INSERT INTO marketplace_apps (repo_id, id, name, description, version, "
            "category, tags, author, featured, docker_config, requirements, details, risks, "
            "source_path, source_blob, avg_rating, rating_sum, rating_count, install_count, "
            "created_at, updated_at) VALUES ('r', 'a', 'A', '', '1', 'other', '[]', '', false, "
            "'{}', '{}', '{}', '[]', 'apps/a.yaml', 'b', 3.25, 13, 4, 0, :now, :now)",
            now=now)  # fmt: skip
    # alice (web), bob twice (the CLI's "Bob" later than the web's "bob"), a gone account.
    for name, stars, at in (("alice", 5, now), ("bob", 4, now), ("Bob", 2, later),
                            ("mallory", 2, now)):  # fmt: skip
        _insert(connection, "INSERT INTO marketplace_ratings (repo_id, app_id, user_id, rating, "
                "updated_at) VALUES ('r', 'a', :name, :stars, :at)", name=name, stars=stars,
                at=at)  # fmt: skip
