"""Guarded YAML loading for definitions that come from untrusted catalogs.

libyaml parses; we build the Python values ourselves from its node graph so
that every hazard of YAML 1.1 is decided here, not by PyYAML's resolver:

* every scalar stays the text its author wrote (`22:22`, `no`, `0755`, `1.10`),
  only `~`/`null`/empty plain scalars become None — typed fields of the schema
  parse text with strict rules later;
* duplicate keys, custom tags and several documents in one file are errors;
* merge keys (`<<: *base`, `<<: [*a, *b]`) merge as compose reads them: the
  mapping's own keys win, then the merged mappings in the order listed;
* aliases (merged ones too) are expanded while counting, so an alias bomb stops
  at a node budget instead of exhausting memory; nesting has a depth limit.
"""

from __future__ import annotations

from typing import Any

import yaml

_STANDARD_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp", "binary")
)
_NULL_TAG = "tag:yaml.org,2002:null"
_NULL_WORDS = frozenset({"", "~", "null", "Null", "NULL"})
_PLAIN = ""  # libyaml reports plain (unquoted) scalars with an empty style

MAX_NODES = 20_000
MAX_DEPTH = 32


class YamlLoadError(ValueError):
    """The file is not acceptable YAML; the message names line and reason."""


def load_yaml(data: bytes, *, max_bytes: int) -> Any:
    """Decode and load one YAML document under the limits above."""
    if len(data) > max_bytes:
        raise YamlLoadError(f"file is {len(data)} bytes, larger than the {max_bytes}-byte limit")
    text = _decode(data)
    node = _compose(text)
    if node is None:
        raise YamlLoadError("file is empty")
    return _Builder().build(node, depth=0)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlLoadError(f"not valid UTF-8 (byte {exc.start})") from None


class _Loader(yaml.CBaseLoader):
    """libyaml's composer, asking for each untagged node's tag in one dict lookup.

    libyaml calls `resolve` back in Python for every node (hundreds per compose
    file), and BaseResolver's own version searches its implicit resolvers, of which
    the base loader has none, before it gives these very tags: that was a quarter
    of the time spent composing."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        return _DEFAULT_TAGS[kind]


_DEFAULT_TAGS: dict[type[yaml.Node], str] = {
    yaml.ScalarNode: yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG,
    yaml.SequenceNode: yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
    yaml.MappingNode: yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
}


def _compose(text: str) -> yaml.Node | None:
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    except yaml.composer.ComposerError as exc:
        if "another document" in str(exc.problem):
            raise YamlLoadError("file holds several YAML documents; give one") from None
        raise YamlLoadError(_describe(exc)) from None
    except yaml.YAMLError as exc:
        raise YamlLoadError(_describe(exc)) from None
    finally:
        loader.dispose()


def _describe(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        where = f"line {exc.problem_mark.line + 1}: " if exc.problem_mark else ""
        return f"invalid YAML, {where}{exc.problem or exc.context}"
    return f"invalid YAML: {exc}"


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Builder:
    """Turns a composed node graph into plain dicts, lists and strings."""

    def __init__(self) -> None:
        self.nodes = 0

    def build(self, node: yaml.Node, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlLoadError(f"document expands to more than {MAX_NODES} nodes (alias bomb?)")
        if depth > MAX_DEPTH:
            raise YamlLoadError(f"line {_line(node)}: nested deeper than {MAX_DEPTH} levels")
        tag = node.tag
        if tag not in _STANDARD_TAGS:
            raise YamlLoadError(f"line {_line(node)}: tag '{tag}' is not allowed")
        if isinstance(node, yaml.ScalarNode):  # most nodes: read here, without another call
            if tag == _NULL_TAG or (node.style == _PLAIN and node.value in _NULL_WORDS):
                return None
            return str(node.value)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, depth + 1) for item in node.value]
        assert isinstance(node, yaml.MappingNode)
        return self._mapping(node, depth)

    def _mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        # The node that first gave each key: its line is read only for an error.
        first: dict[str, yaml.Node] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            if key == "<<" and key_node.style == _PLAIN:  # a merge key
                if "<<" in first:
                    raise YamlLoadError(f"line {_line(key_node)}: a second merge key ('<<') "
                                        f"(first given on line {_line(first['<<'])})")  # fmt: skip
                first["<<"] = key_node
                merged = self._merged(value_node, depth + 1)
                continue
            if key in result:
                raise YamlLoadError(
                    f"line {_line(key_node)}: duplicate key '{key}' "
                    f"(first given on line {_line(first[key])})"
                )
            first[key] = key_node
            result[key] = self.build(value_node, depth + 1)
        return {**merged, **result} if merged else result

    def _merged(self, node: yaml.Node, depth: int) -> dict[str, Any]:
        """What `<<:` brings in: one mapping, or a list of them (the first listed wins)."""
        parts = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for part in reversed(parts):
            built = self.build(part, depth)
            if not isinstance(built, dict):
                raise YamlLoadError(f"line {_line(part)}: a merge key ('<<') takes a mapping "
                                    "or a list of mappings")  # fmt: skip
            merged.update(built)
        return merged

    @staticmethod
    def _key(node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise YamlLoadError(f"line {_line(node)}: mapping keys must be plain text")
        return str(node.value)
