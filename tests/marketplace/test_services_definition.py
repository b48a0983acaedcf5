"""The `services:` form of tomo's own format: several containers, settings used as
`${NAME}`, dependencies, shared named volumes; precise errors naming the key."""

from __future__ import annotations

import gc

import pytest
import yaml

from tomo.errors import InvalidDefinition
from tomo.marketplace.definition import AppDefinition, start_order
from tomo.marketplace.parse import parse_definition
from tomo.marketplace.risk import app_risks

WIKI = """
id: wiki
name: Wiki
version: "2.5"
main: web
settings:
  - name: DB_PASSWORD
    secret: true
    generate: password
  - name: SITE_NAME
    default: My wiki
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: ${DB_PASSWORD}
    volumes:
      - volume: dbdata
        container_path: /var/lib/postgresql/data
    healthcheck:
      test: [CMD, pg_isready, -U, postgres]
      interval: 5s
      retries: 10
  migrate:
    image: example/wiki:2.5
    command: wiki migrate
    depends_on:
      db: {condition: service_healthy}
  web:
    image: example/wiki:2.5
    ports: ["8080:3000"]
    environment:
      - name: DATABASE_URL
        default: postgres://postgres:${DB_PASSWORD}@db/wiki
      - name: TITLE
        default: ${SITE_NAME} on ${TOMO_SERVER_HOST} costs $$0
    depends_on:
      db: healthy
      migrate: {condition: service_completed_successfully}
    user: "1000:1000"
    working_dir: /app
    entrypoint: [/app/run, --quiet]
"""


def load(text: str) -> AppDefinition:
    return parse_definition("apps/tools/wiki.yaml", text.encode(), max_bytes=100_000)


def problems(text: str) -> str:
    with pytest.raises(InvalidDefinition) as refused:
        load(text)
    return refused.value.reason


def test_the_services_form_loads_with_the_main_service_as_docker() -> None:
    wiki = load(WIKI)

    assert (wiki.main_service, wiki.docker.image, list(wiki.services)) == (
        "web", "example/wiki:2.5", ["db", "migrate"],
    )  # fmt: skip
    assert wiki.is_multi_container
    assert list(wiki.all_services) == ["web", "db", "migrate"]
    assert wiki.docker.depends_on == {"db": "healthy", "migrate": "completed"}
    assert wiki.services["migrate"].depends_on == {"db": "healthy"}
    assert wiki.services["migrate"].command == ["wiki", "migrate"]
    assert wiki.services["db"].volumes[0].volume == "dbdata"
    health = wiki.services["db"].healthcheck
    assert health is not None and health.in_container and health.test == [
        "CMD", "pg_isready", "-U", "postgres",
    ]  # fmt: skip
    assert (wiki.docker.user, wiki.docker.working_dir, wiki.docker.entrypoint) == (
        "1000:1000", "/app", ["/app/run", "--quiet"],
    )  # fmt: skip
    assert [s.name for s in wiki.settings] == ["DB_PASSWORD", "SITE_NAME"]


def test_it_survives_a_round_trip_through_the_catalog() -> None:
    wiki = load(WIKI)
    again = AppDefinition.model_validate(wiki.model_dump(mode="json"))
    assert again == wiki


def test_loading_a_definition_leaves_no_garbage_in_cycles() -> None:
    """A sync pauses the cyclic collector: a definition whose checks left a cycle
    behind (a nested function calling itself) kept its services alive until the
    sync's end, and made its one collection walk every app's."""
    data = yaml.safe_load(WIKI)
    gc.collect()
    gc.disable()
    try:
        AppDefinition.model_validate(data)
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_services_start_after_what_they_depend_on() -> None:
    wiki = load(WIKI)
    assert start_order(wiki.all_services) == ["db", "migrate", "web"]


def test_the_main_service_defaults_to_the_one_with_ports() -> None:
    data = yaml.safe_load(WIKI)
    del data["main"]
    assert AppDefinition.model_validate(data).main_service == "web"


def test_service_network_mode_carries_no_risk_and_risks_of_every_service_count() -> None:
    data = yaml.safe_load(WIKI)
    data["services"]["migrate"]["network_mode"] = "service:db"
    data["services"]["db"]["volumes"].append(
        {"host_path": "/var/run/docker.sock", "container_path": "/var/run/docker.sock"}
    )
    assert app_risks(AppDefinition.model_validate(data)) == ["docker-socket"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["services"]["web"].update(depends_on=["cache"]),
         "services.web.depends_on: 'cache' is not another service of this app"),
        (lambda d: d["services"]["db"].update(depends_on=["web"]),
         "services depend on each other in a circle: "),
        (lambda d: d.update(main="nope"), "main: 'nope' is not one of the services"),
        (lambda d: d["services"]["web"]["environment"][0].update(default="${NOPE}"),
         "services.web.environment.DATABASE_URL: ${NOPE} is not a setting of this app"),
        (lambda d: d["services"]["migrate"].update(network_mode="service:cache"),
         "services.migrate.network_mode: 'cache' is not another service of this app"),
        (lambda d: d["services"]["db"]["volumes"][0].update(host_path="./x"),
         "give only one of host_path / volume"),
        (lambda d: d["services"]["db"]["healthcheck"].update(interval="soon"),
         "'soon' is not a duration"),
        (lambda d: d["services"]["web"].update(depends_on={"db": {"condition": "ready"}}),
         "condition must be started, healthy or completed"),
        (lambda d: d.update(services={}), "services: name at least one service"),
        (lambda d: d.update(docker={"image": "x:1"}), "main: 'web' is given twice"),
    ],
)  # fmt: skip
def test_mistakes_are_named_precisely(change, expected: str) -> None:
    data = yaml.safe_load(WIKI)
    change(data)
    assert expected in problems(yaml.safe_dump(data))


def test_a_single_container_app_is_unchanged() -> None:
    data = {"id": "one", "name": "One", "version": "1", "docker": {"image": "x:1"}}
    one = AppDefinition.model_validate(data)
    assert (one.services, one.main, one.main_service, one.is_multi_container) == (
        {}, None, "app", False,
    )  # fmt: skip
