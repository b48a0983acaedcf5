"""Warnings about keys that look misspelt; other unknown keys stay silent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gitrepo import app_definition
from tomo.marketplace.keys import misspelt_keys


def with_docker(**docker: Any) -> dict[str, Any]:
    base = app_definition("web")
    return {**base, "docker": {**base["docker"], **docker}}


def test_a_valid_definition_has_no_warnings() -> None:
    assert misspelt_keys(app_definition("web")) == []


@pytest.mark.parametrize(
    ("raw", "warning"),
    [
        ({**app_definition("web"), "descripton": "x"},
         "descripton: unknown key, ignored (did you mean 'description'?)"),
        ({**app_definition("web"), "nmae": "x"},
         "nmae: unknown key, ignored (did you mean 'name'?)"),
        ({**app_definition("web"), "tag": ["x"]},
         "tag: unknown key, ignored (did you mean 'tags'?)"),
        (with_docker(enviroment=[]),
         "docker.enviroment: unknown key, ignored (did you mean 'environment'?)"),
        (with_docker(restart_polcy="always"),
         "docker.restart_polcy: unknown key, ignored (did you mean 'restart_policy'?)"),
        (with_docker(ports=[{"container": 80, "protcol": "udp"}]),
         "docker.ports[0].protcol: unknown key, ignored (did you mean 'protocol'?)"),
        (with_docker(volumes=[{"container": "/a", "mode": "ro", "hsot": "./a"}]),
         "docker.volumes[0].hsot: unknown key, ignored (did you mean 'host'?)"),
        (with_docker(environment=[{"name": "A", "defualt": "1"}]),
         "docker.environment[0].defualt: unknown key, ignored (did you mean 'default'?)"),
        (with_docker(healthcheck={"endpont": "/"}),
         "docker.healthcheck.endpont: unknown key, ignored (did you mean 'endpoint'?)"),
        ({**app_definition("web"), "healthcheck": {"prot": 80}},
         "healthcheck.prot: unknown key, ignored (did you mean 'port'?)"),
        ({**app_definition("web"), "requirements": {"memroy": "1GB"}},
         "requirements.memroy: unknown key, ignored (did you mean 'memory'?)"),
    ],
)  # fmt: skip
def test_a_misspelt_key_is_named_with_the_key_it_probably_meant(
    raw: dict[str, Any], warning: str
) -> None:
    assert misspelt_keys(raw) == [warning]


def test_other_stores_extras_and_accepted_spellings_are_silent() -> None:
    raw = {**app_definition("web"), "x-casaos": {"title": "Web"}, "tipi_version": 3,
           "uid": 7, "form_fields": [], "exposable": True, "command": "serve"}  # fmt: skip
    raw["docker"] = {**raw["docker"], "env": [{"name": "A", "value": "1"}], "restart": "always",
                     "volumes": [{"container": "/a", "host": "./a", "mode": "ro"}]}  # fmt: skip
    assert misspelt_keys(raw) == []


def test_keys_under_a_misspelt_key_are_not_judged() -> None:
    assert misspelt_keys(with_docker(enviroment=[{"name": "A", "defualt": "1"}])) == [
        "docker.enviroment: unknown key, ignored (did you mean 'environment'?)"
    ]


def test_the_same_unknown_key_is_judged_by_each_place_s_own_keys_every_time() -> None:
    """Close matches are remembered per model and key (a catalog repeats its extras)."""
    raw = with_docker(tag="x", prot=80)
    raw = {**raw, "tag": ["x"], "prot": 80, "healthcheck": {"prot": 80}}
    for _ in range(2):
        assert misspelt_keys(raw) == [
            "tag: unknown key, ignored (did you mean 'tags'?)",
            "healthcheck.prot: unknown key, ignored (did you mean 'port'?)",
        ]
