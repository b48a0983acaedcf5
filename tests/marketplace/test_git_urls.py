"""Repository URLs: what git may see, and what is refused before git runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tomo.errors import InvalidRepoUrl
from tomo.marketplace.git import check_branch, check_repo_url, repo_url_key


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/tomo/catalog.git",
        "https://git.example.com:8443/team/catalog",
        "ssh://git@example.com/tomo/catalog.git",
        "ssh://git@example.com:2222/tomo/catalog.git",
        "ssh://git@[::1]:2222/tomo/catalog.git",
        "git@github.com:tomo/catalog.git",
        "gitea:catalog.git",
    ],
)
def test_network_urls_are_accepted(url: str) -> None:
    checked = check_repo_url(url, allow_local=False)
    assert checked.url == url
    assert checked.is_local is False


def test_local_paths_and_file_urls_are_accepted_when_allowed(tmp_path: Path) -> None:
    assert check_repo_url(str(tmp_path), allow_local=True).is_local
    assert check_repo_url(f"file://{tmp_path}", allow_local=True).is_local


@pytest.mark.parametrize("form", ["{path}", "file://{path}"])
def test_local_repos_can_be_forbidden(tmp_path: Path, form: str) -> None:
    with pytest.raises(InvalidRepoUrl, match="local repositories are disabled"):
        check_repo_url(form.format(path=tmp_path), allow_local=False)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ext::sh -c touch% /tmp/pwned", "transport tomo does not allow"),
        ("fd::17", "transport tomo does not allow"),
        ("-uhttps://x/y", "may not start with '-'"),
        ("--upload-pack=touch /tmp/pwned", "may not start with '-'"),
        ("https://x.org/r --upload-pack=id", "transport tomo does not allow"),
        ("https://x.org/r?--upload-pack=id", "transport tomo does not allow"),
        ("http://example.com/catalog.git", "scheme 'http' is not allowed"),
        ("git://example.com/catalog.git", "scheme 'git' is not allowed"),
        ("ftp://example.com/catalog.git", "scheme 'ftp' is not allowed"),
        ("https://-oProxyCommand=id/x", "no valid host"),
        ("https://example.com/", "names no repository path"),
        ("https://example.com:99999/r", "invalid port"),
        ("https://exa\nmple.com/r", "spaces or control characters"),
        ("", "is empty"),
        ("not a url", "spaces or control characters"),
    ],
)
def test_dangerous_or_unknown_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(InvalidRepoUrl, match=reason):
        check_repo_url(url, allow_local=True)


@pytest.mark.parametrize("branch", ["main", "release/1.2", "feature_x-y.z"])
def test_valid_branches(branch: str) -> None:
    assert check_branch(branch) == branch


@pytest.mark.parametrize(
    "branch", ["-b", "--upload-pack=x", "a..b", "a b", "x.lock", "a//b", "trailing/", "x@{1}", ""]
)
def test_invalid_branches(branch: str) -> None:
    with pytest.raises(InvalidRepoUrl, match="not a valid branch name"):
        check_branch(branch)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://user:s3cret@-bad/x", "no valid host: 'https://-bad/x'"),
        ("https://user:s3cret@example.com:99999/x", "invalid port"),
        ("https://user:s3cret@example.com/", "names no repository path"),
        ("https://user:s3c/ret@example.com/x", "'https://***@example.com/x'"),
        ("https://:s3cret@example.com/x", "credentials in a repository URL need a user name"),
        ("https://user:s3cr%0Aet@example.com/x", "may not contain control characters"),
        ("https://us%00er:s3cret@example.com/x", "may not contain control characters"),
        ("http://user:s3cret@example.com/x", "only https URLs may carry credentials"),
        ("http://user@example.com/x", "scheme 'http' is not allowed"),
        ("ssh://git:s3cret@example.com/x", "for ssh URLs, use an SSH key"),
        ("git:s3cret@example.com:x/y.git", "for ssh URLs, use an SSH key"),
        ("file://user:s3cret@/tmp/x", "only https URLs may carry credentials"),
        ("-https://user:s3cret@example.com/x", "may not start with '-'"),
        ("https://user:s3cret@x.org/r --upload-pack=id", "transport tomo does not allow"),
        ("https://user:s3cret@x.org/a b", "spaces or control characters"),
    ],
)
def test_refusals_of_urls_with_credentials_never_echo_them(url: str, reason: str) -> None:
    with pytest.raises(InvalidRepoUrl, match=re.escape(reason)) as refused:
        check_repo_url(url, allow_local=True)
    assert "s3c" not in refused.value.message


def test_refusals_say_how_to_give_credentials() -> None:
    with pytest.raises(InvalidRepoUrl) as refused:
        check_repo_url("ssh://git:pw@example.com/x.git", allow_local=False)
    assert refused.value.message == (
        "only https URLs may carry credentials (https://USER:TOKEN@host/path); "
        "for ssh URLs, use an SSH key"
    )


@pytest.mark.parametrize(
    ("first", "again"),
    [
        ("https://Git.Example.com/team/catalog.git", "https://git.example.com/team/catalog/"),
        (
            "https://git.example.com:8443/team/catalog",
            "https://GIT.example.com:8443/team/catalog.git",
        ),
        ("ssh://git@Example.com:2222/team/catalog.git", "ssh://git@example.com:2222/team/catalog"),
        ("git@Example.com:team/catalog.git", "git@example.com:team/catalog/"),
        ("/srv/catalogs/home.git", "/srv/catalogs/home/"),
        ("file:///srv/catalogs/home", "/srv/catalogs/home"),
    ],
)
def test_one_repository_spelt_two_ways_has_one_key(first: str, again: str) -> None:
    assert repo_url_key(first) == repo_url_key(again)


@pytest.mark.parametrize(
    ("first", "other"),
    [
        ("https://git.example.com/team/catalog", "https://git.example.com/team/catalog-2"),
        ("https://git.example.com/team/catalog", "https://git.example.com/Team/catalog"),
        ("https://git.example.com/team/catalog", "https://git.example.com:8443/team/catalog"),
        ("https://git.example.com/team/catalog", "ssh://git@git.example.com/team/catalog"),
        ("ssh://alice@example.com/catalog", "ssh://bob@example.com/catalog"),
    ],
)
def test_different_repositories_have_different_keys(first: str, other: str) -> None:
    assert repo_url_key(first) != repo_url_key(other)
