"""Strict YAML reading shared by every input file (plans, hardware configs, sweep specs).

PyYAML silently keeps the last of two repeated keys; a repeated key in a config is almost always a
mistake that changes a result, so it is refused here, naming the key and its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from accelsim.errors import AccelsimError


class _StrictLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key '{key}' is repeated (first on line {seen[key]}, again on line {line})", key_node.start_mark
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_text(path: str | Path) -> str:
    """The text of an input file; a missing, unreadable or binary file is an `AccelsimError` naming it."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AccelsimError(f"{path}: file not found") from None
    except OSError as exc:
        raise AccelsimError(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise AccelsimError(f"{path}: not a text file (byte {exc.start} is not UTF-8); expected YAML") from None


def load_yaml(path: str | Path) -> Any:
    path = Path(path)
    text = read_text(path)
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise AccelsimError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None


def format_validation_error(source: str, exc) -> str:
    """One line per problem of a pydantic ValidationError, each naming the dotted field path."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's own message
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        lines.append(f"{source}: {loc}: {msg}")
    return "\n".join(lines)
