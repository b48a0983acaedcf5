"""Guarded YAML loading: hostile files get precise errors, YAML 1.1 traps stay text."""

from __future__ import annotations

import re

import pytest

from tomo.marketplace.safe_yaml import MAX_DEPTH, MAX_NODES, YamlLoadError, load_yaml

LIMIT = 64 * 1024


def load(text: str | bytes) -> object:
    data = text.encode() if isinstance(text, str) else text
    return load_yaml(data, max_bytes=LIMIT)


def test_yaml_11_traps_stay_the_text_the_author_wrote() -> None:
    loaded = load("port: 22:22\nflag: no\nother: on\nmode: 0755\nversion: 1.10\nyes: y\n")
    assert loaded == {
        "port": "22:22",
        "flag": "no",
        "other": "on",
        "mode": "0755",
        "version": "1.10",
        "yes": "y",
    }


def test_null_words_become_none_only_when_plain() -> None:
    assert load("a:\nb: ~\nc: null\nd: 'null'\ne: ''\n") == {
        "a": None,
        "b": None,
        "c": None,
        "d": "null",
        "e": "",
    }


def test_alias_bomb_stops_at_the_node_budget() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for name, previous in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 10)}]")
    with pytest.raises(YamlLoadError, match=f"more than {MAX_NODES} nodes"):
        load("\n".join(lines))


def test_small_aliases_are_expanded_as_copies() -> None:
    assert load("base: &b {x: '1'}\nother: *b\n") == {"base": {"x": "1"}, "other": {"x": "1"}}


def test_deep_nesting_is_refused() -> None:
    deep = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    with pytest.raises(YamlLoadError, match=f"nested deeper than {MAX_DEPTH}"):
        load(deep)


def test_nesting_beyond_libyaml_limit_is_an_error_not_a_crash() -> None:
    with pytest.raises(YamlLoadError, match="invalid YAML"):
        load("[" * 20_000 + "]" * 20_000)


def test_duplicate_keys_name_both_lines() -> None:
    with pytest.raises(
        YamlLoadError, match=r"line 3: duplicate key 'image' \(first given on line 1\)"
    ):
        load("image: a\nname: b\nimage: c\n")


def test_oversized_file_is_refused_before_parsing() -> None:
    with pytest.raises(YamlLoadError, match="larger than the 65536-byte limit"):
        load("a: " + "x" * LIMIT)


def test_non_utf8_bytes_name_the_offset() -> None:
    with pytest.raises(YamlLoadError, match=r"not valid UTF-8 \(byte 4\)"):
        load(b"id: \xff\xfe")


def test_custom_tags_are_refused() -> None:
    with pytest.raises(
        YamlLoadError, match=re.escape("tag 'tag:yaml.org,2002:python/object/apply:os.system'")
    ):
        load("x: !!python/object/apply:os.system ['id']\n")


def test_several_documents_are_refused() -> None:
    with pytest.raises(YamlLoadError, match="several YAML documents"):
        load("a: 1\n---\nb: 2\n")


def test_merge_keys_merge_and_the_mappings_own_keys_win() -> None:
    doc = load(
        "x-env: &env {TZ: UTC, LANG: C}\n"
        "x-more: &more {LANG: de, PUID: '1000'}\n"
        "one:\n  <<: *env\n  LANG: en\n"
        "two:\n  <<: [*more, *env]\n"
    )
    assert doc == {
        "x-env": {"TZ": "UTC", "LANG": "C"}, "x-more": {"LANG": "de", "PUID": "1000"},
        "one": {"TZ": "UTC", "LANG": "en"},  # its own key wins
        "two": {"TZ": "UTC", "LANG": "de", "PUID": "1000"},  # the first listed wins
    }  # fmt: skip


def test_a_quoted_merge_key_is_a_plain_key() -> None:
    assert load("a: {x: 1}\nb:\n  '<<': text\n") == {"a": {"x": "1"}, "b": {"<<": "text"}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a:\n  <<: just text\n", "line 2: a merge key ('<<') takes a mapping"),
        ("a:\n  <<: [{x: 1}, [1]]\n", "line 2: a merge key ('<<') takes a mapping"),
        ("b: &b {x: 1}\na:\n  <<: *b\n  <<: *b\n", "line 4: a second merge key"),
    ],
)
def test_a_merge_key_that_merges_no_mapping_is_an_error(text: str, message: str) -> None:
    with pytest.raises(YamlLoadError, match=re.escape(message)):
        load(text)


def test_merging_is_counted_like_any_alias() -> None:
    """A bomb built of merges stops at the node budget like one built of aliases:
    each level merges the one below and lists it eight times."""
    lines = ["l0: &l0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}"]
    for level in range(1, 12):
        below = f"*l{level - 1}"
        lines.append(f"l{level}: &l{level}\n  <<: {below}\n  k: [{', '.join([below] * 8)}]")
    with pytest.raises(YamlLoadError, match="alias bomb"):
        load("\n".join(lines) + "\n")


def test_complex_keys_are_refused() -> None:
    with pytest.raises(YamlLoadError, match="mapping keys must be plain text"):
        load("? [a, b]\n: c\n")


def test_empty_file_is_an_error() -> None:
    with pytest.raises(YamlLoadError, match="file is empty"):
        load("# only a comment\n")


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(YamlLoadError, match="line 2"):
        load("a: b\n  c: d: e\n")
