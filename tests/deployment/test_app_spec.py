"""From a definition of several services to the containers to create (pure: no
Docker, no SSH). The real deployment is in test_multi_container.py."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.marketplace.test_services_definition import WIKI
from tomo.deployment.app_spec import AppSpec, app_mounts, build_app_spec
from tomo.deployment.spec import InstallConfig, PortOverride, build_docker_run_command
from tomo.errors import InvalidInput
from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.formats.base import SourceSpec
from tomo.marketplace.formats.tomo import TomoFormat

ROOT = "/srv/apps"


def wiki(**changes: Any) -> AppDefinition:
    data = yaml.safe_load(WIKI)
    data.update(changes)
    return AppDefinition.model_validate(data)


def build(definition: AppDefinition | None = None, config: InstallConfig | None = None,
          **kwargs: Any) -> AppSpec:  # fmt: skip
    return build_app_spec(
        definition or wiki(), config or InstallConfig(), repo_id="main", installation_id="i1",
        data_root=ROOT, server_host="nas.local", **kwargs,
    )  # fmt: skip


def test_each_service_is_a_container_on_the_apps_network_in_start_order() -> None:
    app = build()

    assert [(c.name, c.service) for c in app.containers] == [
        ("wiki-db", "db"), ("wiki-migrate", "migrate"), ("wiki", "web"),
    ]  # fmt: skip
    assert (app.main.name, app.network, app.volumes) == ("wiki", "tomo-wiki", ["wiki_dbdata"])
    web = app.named("wiki")
    assert web.depends_on == {"wiki-db": "healthy", "wiki-migrate": "completed"}
    assert app.named("wiki-migrate").one_shot and not web.one_shot
    assert web.labels["tomo.service"] == "web" and web.labels["tomo.installation"] == "i1"
    assert app.images == ["postgres:16", "example/wiki:2.5"]


def test_settings_fill_the_values_and_a_secret_one_makes_them_secret() -> None:
    app = build()
    web, db = app.named("wiki"), app.named("wiki-db")
    password = app.secret_env["DB_PASSWORD"]

    assert len(password) >= 24
    assert db.secret_env == {"POSTGRES_PASSWORD": password}
    assert web.secret_env == {"DATABASE_URL": f"postgres://postgres:{password}@db/wiki"}
    assert web.env == {"TITLE": "My wiki on nas.local costs $0"}
    assert app.env == {"SITE_NAME": "My wiki"}
    assert (web.env_file, db.env_file) == ("/srv/apps/wiki/.tomo.env",
                                           "/srv/apps/wiki/.tomo.db.env")  # fmt: skip


def test_values_given_or_generated_before_are_used() -> None:
    config = InstallConfig(env={"SITE_NAME": "Docs", "EXTRA": "1"})
    app = build(config=config, generated={"DB_PASSWORD": "kept"})

    assert app.named("wiki-db").secret_env == {"POSTGRES_PASSWORD": "kept"}
    assert app.named("wiki").env == {"TITLE": "Docs on nas.local costs $0", "EXTRA": "1"}
    assert app.env == {"SITE_NAME": "Docs", "EXTRA": "1"}


def test_required_settings_missing_are_named_together() -> None:
    data = yaml.safe_load(WIKI)
    data["settings"] += [{"name": "ADMIN_EMAIL", "required": True},
                         {"name": "DOMAIN", "required": True}]  # fmt: skip
    with pytest.raises(InvalidInput, match="required settings missing: ADMIN_EMAIL, DOMAIN"):
        build(AppDefinition.model_validate(data))


def test_the_docker_run_of_a_service_joins_the_network_under_its_name() -> None:
    app = build()
    web = build_docker_run_command(app.named("wiki"), "127.0.0.1")
    db = build_docker_run_command(app.named("wiki-db"), "127.0.0.1")

    assert web[web.index("--network") + 1 : web.index("--network") + 4] == [
        "tomo-wiki", "--network-alias", "web",
    ]  # fmt: skip
    assert [
        a for a in web if a in ("--user", "1000:1000", "--workdir", "/app", "--entrypoint",
                                "/app/run")
    ] == ["--user", "1000:1000", "--workdir", "/app", "--entrypoint", "/app/run"]  # fmt: skip
    assert web[-2:] == ["example/wiki:2.5", "--quiet"]  # the entrypoint's own argument
    assert "--publish" in web and "127.0.0.1:8080:3000/tcp" in web
    assert db[db.index("--volume") : db.index("--volume") + 2] == [
        "--volume",
        "wiki_dbdata:/var/lib/postgresql/data",
    ]
    assert db[db.index("--health-cmd") + 1] == "pg_isready -U postgres"
    assert db[db.index("--health-interval") + 1] == "5s"


def test_port_overrides_apply_to_the_main_service_and_clashes_are_refused() -> None:
    moved = build(config=InstallConfig(ports=[PortOverride(host=9000, container=3000)]))
    assert moved.main.ports[0].host == 9000

    data = yaml.safe_load(WIKI)
    data["services"]["db"]["ports"] = ["8080:5432"]
    with pytest.raises(InvalidInput, match="host port 8080/tcp is published by services"):
        build(AppDefinition.model_validate(data))


def test_unplaced_folders_of_other_services_stay_apart() -> None:
    data = yaml.safe_load(WIKI)
    data["services"]["web"]["volumes"] = [{"container_path": "/data"}]
    data["services"]["migrate"]["volumes"] = [{"container_path": "/data"}]
    definition = AppDefinition.model_validate(data)

    folders = [m.host_path for m in app_mounts(definition, InstallConfig(), f"{ROOT}/wiki")]

    assert folders == ["/srv/apps/wiki/data", "/srv/apps/wiki/migrate/data"]


def test_risks_of_every_service_must_be_accepted() -> None:
    data = yaml.safe_load(WIKI)
    data["services"]["migrate"]["privileged"] = True
    definition = AppDefinition.model_validate(data)
    with pytest.raises(InvalidInput, match="risk flags you have not accepted: privileged"):
        build(definition)
    assert build(definition, InstallConfig(accept_risks=["privileged"])).risks == ["privileged"]


def test_a_single_container_app_is_an_app_of_one_service() -> None:
    one = AppDefinition.model_validate(
        {"id": "one", "name": "One", "version": "1", "docker": {"image": "x:1"}}
    )
    app = build(one)
    assert [(c.name, c.service, c.network) for c in app.containers] == [("one", "app", None)]


def test_hardening_a_service_asks_for_reaches_docker_run() -> None:
    data = yaml.safe_load(WIKI)
    data["services"]["db"].update(cap_drop=["ALL"], read_only=True,
                                  security_opt=["no-new-privileges"])  # fmt: skip
    db = build_docker_run_command(build(AppDefinition.model_validate(data)).named("wiki-db"),
                                  "127.0.0.1")  # fmt: skip
    assert db[db.index("--cap-drop") : db.index("--cap-drop") + 5] == [
        "--cap-drop", "ALL", "--read-only", "--security-opt", "no-new-privileges:true",
    ]  # fmt: skip


def test_a_setting_given_outside_its_choices_is_refused() -> None:
    data = yaml.safe_load(WIKI)
    data["settings"].append({"name": "LANGUAGE", "choices": ["en", "fr"], "default": "en"})
    definition = AppDefinition.model_validate(data)

    assert build(definition).env["LANGUAGE"] == "en"
    with pytest.raises(InvalidInput, match="LANGUAGE takes one of en, fr, not 'de'"):
        build(definition, InstallConfig(env={"LANGUAGE": "de"}))


def test_what_the_user_gives_is_taken_as_written_now_and_after_an_update() -> None:
    given = "pa$$w${SITE_NAME}$0"
    app = build(config=InstallConfig(env={"DB_PASSWORD": given, "SITE_NAME": "a $$ b"}))
    assert app.named("wiki-db").secret_env == {"POSTGRES_PASSWORD": given}
    assert app.named("wiki").env["TITLE"] == "a $$ b on nas.local costs $0"

    # an update reads the sealed values back: the same password, not one made from it
    again = build(config=InstallConfig(env={"SITE_NAME": "a $$ b"}), generated=app.secret_env)
    assert again.named("wiki-db").secret_env == {"POSTGRES_PASSWORD": given}
    assert (app.generated, again.generated) == ({}, {})


def test_only_what_no_definition_gives_again_is_kept_sealed() -> None:
    app = build()
    password = app.secret_env["DB_PASSWORD"]
    # DATABASE_URL is secret (it carries the password) but the definition makes it
    # again at every update: keeping it would freeze an old template
    assert app.secret_env == {"DB_PASSWORD": password}
    assert app.generated == {"DB_PASSWORD": password}


def test_a_single_container_without_settings_takes_its_values_as_written() -> None:
    one = AppDefinition.model_validate({
        "id": "one", "name": "One", "version": "1",
        "docker": {"image": "x:1", "command": ["echo", "$$HOME"], "environment": [
            {"name": "PRICE", "default": "$$5 ${X}"},
            {"name": "TOKEN", "secret": True, "generate": "hex"},
        ]},
    })  # fmt: skip
    app = build(one, InstallConfig(env={"EXTRA": "$$"}))
    main = app.main
    assert (main.env, main.command) == ({"PRICE": "$$5 ${X}", "EXTRA": "$$"}, ["echo", "$$HOME"])
    assert app.env == {"PRICE": "$$5 ${X}", "EXTRA": "$$"}  # the user's variables, recorded
    assert app.secret_env == app.generated == {"TOKEN": main.secret_env["TOKEN"]}


COUNTER = "sh -c 'i=0; while [ $$i -lt 3 ]; do i=$$((i+1)); echo $$i; done'"
DOLLAR_FORMS = {
    "docker": {"docker": {"image": "busybox:1.36", "command": COUNTER,
                          "environment": {"NEXT": "$$((i+1))"}}},
    "services of one": {"services": {"counter": {"image": "busybox:1.36", "command": COUNTER,
                                                 "environment": {"NEXT": "$$((i+1))"}}}},
    "services": {"services": {
        "counter": {"image": "busybox:1.36", "command": COUNTER,
                    "environment": {"NEXT": "$$((i+1))"}, "ports": ["8080:80"]},
        "cache": {"image": "redis:7"},
    }},
}  # fmt: skip


@pytest.mark.parametrize("form", DOLLAR_FORMS.values(), ids=DOLLAR_FORMS.keys())
def test_a_double_dollar_of_tomos_own_format_reaches_the_container_as_one(
    form: dict[str, Any],
) -> None:
    """`$$` is a literal `$` in tomo's own files, whatever the form: a one-container
    app without settings (taken as written) no less than one whose values are templates."""
    text = yaml.safe_dump({"id": "counter", "name": "Counter", "version": "1", **form})
    path = "apps/tools/counter.yaml"
    parsed = TomoFormat().parse(SourceSpec(path, (path,)), {path: text.encode()}, max_bytes=1 << 16)
    # the catalog stores the definition and reads it back before an install
    stored = AppDefinition.model_validate(parsed.definition.model_dump(mode="json"))

    main = build(stored).named("counter")

    expected = "i=0; while [ $i -lt 3 ]; do i=$((i+1)); echo $i; done"
    assert build_docker_run_command(main, "127.0.0.1")[-3:] == ["sh", "-c", expected]
    assert main.env == {"NEXT": "$((i+1))"}


def test_a_value_no_env_file_can_carry_is_refused_in_every_service() -> None:
    data = yaml.safe_load(WIKI)
    data["services"]["db"]["environment"]["LOCALE"] = "a\nb"
    with pytest.raises(InvalidInput) as caught:
        build(AppDefinition.model_validate(data))
    assert [(p.text, p.fields) for p in caught.value.problems] == [
        ("environment variable LOCALE may not contain a line break", ()),
    ]

    with pytest.raises(InvalidInput) as caught:
        build(config=InstallConfig(env={"SITE_NAME": "x\ry"}))
    assert [p.fields for p in caught.value.problems] == [("env.SITE_NAME",)]
