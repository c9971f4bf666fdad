"""Reading a YAML scenario while keeping the line of every key, for error messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

from harness.errors import ScenarioError

PathT = tuple[str | int, ...]


def dotted(path: PathT) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


@dataclass
class Source:
    """A parsed scenario file: its values and the line each key path starts on."""

    file: str
    data: Any
    lines: dict[PathT, int]
    # The text of every scalar as written, so that `3.10` stays "3.10" where text is wanted.
    texts: dict[PathT, str] = field(default_factory=dict)

    def line(self, path: PathT) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def fail(self, path: PathT, problem: str, fix: str = "") -> NoReturn:
        raise ScenarioError(self.file, self.line(path), dotted(path), problem, fix)


def read_source(path: Path) -> Source:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(name, None, "", f"cannot read the file: {exc.strerror}") from exc
    return parse_source(text, name)


def parse_source(text: str, name: str) -> Source:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(name, line, "", f"not valid YAML: {exc.problem}", "check indentation and quoting") from exc
    if root is None:
        raise ScenarioError(name, None, "", "the file is empty", "start from docs/scenario-format.md")
    lines: dict[PathT, int] = {}
    texts: dict[PathT, str] = {}
    constructor = yaml.SafeLoader("")
    data = _build(root, (), lines, texts, name, constructor, set())
    return Source(name, data, lines, texts)


def _build(
    node: yaml.Node,
    path: PathT,
    lines: dict[PathT, int],
    texts: dict[PathT, str],
    name: str,
    ctor: yaml.SafeLoader,
    open_nodes: set[int],
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        if id(node) in open_nodes:
            raise ScenarioError(
                name, lines[path], dotted(path), "this alias refers to a node that contains it", "write the value out"
            )
        open_nodes = open_nodes | {id(node)}
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value  # a key is a name: keep it as written ('1.10', 'no', 'on')
            else:
                key = str(ctor.construct_object(key_node, deep=True))
            if key in result:
                raise ScenarioError(
                    name,
                    key_node.start_mark.line + 1,
                    dotted((*path, key)),
                    "this key appears twice in the same mapping",
                    "keep one of them",
                )
            key_path = (*path, key)
            result[key] = _build(value_node, key_path, lines, texts, name, ctor, open_nodes)
            lines[key_path] = key_node.start_mark.line + 1  # a key's line, not its value's
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), lines, texts, name, ctor, open_nodes) for i, item in enumerate(node.value)]
    texts[path] = node.value
    try:
        return ctor.construct_object(node, deep=True)
    except yaml.MarkedYAMLError as exc:  # an unknown tag such as '!foo', a bad '!!binary'
        raise ScenarioError(
            name, lines[path], dotted(path), f"cannot read this value: {exc.problem}", "write plain YAML, without tags"
        ) from exc
