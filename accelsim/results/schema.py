"""Every figure accelsim writes, declared once: name, unit, type and one line of meaning.

A result is a typed record (a frozen dataclass) whose fields carry their unit and description. The
CSV columns, the Parquet schema, a sweep's row, the terminal table and ``docs/outputs.md`` are all
generated from these declarations, so adding a figure is one edit here (and the code that computes it).

Records nest: a design point's summary is made of a few parts (what was designed, its accuracy, its
simulated frame, what this run did), each its own record; ``flat()`` joins them into the one flat row
that tables and JSON hold. Column names end in their unit (``_pj``, ``_bytes``, ``_ms``) wherever the
unit is not obvious from the name.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Show:
    """How a field appears in the terminal table: header, format spec and a scale applied first."""

    header: str
    spec: str
    scale: float = 1.0


@dataclass(frozen=True)
class Column:
    """One output column: what a table, a JSON key and the reference page say about a field."""

    name: str
    unit: str  # "pJ", "B", "cycles", ...; "1" for a dimensionless ratio, "" for a label or flag
    type: type  # int, float, str, bool, or tuple (a list of names; comma-joined in tables)
    description: str
    optional: bool  # None where it does not apply (no dataset evaluated, a failed sweep point)
    show: Show | None = None


def figure(unit: str, description: str, *, show: Show | None = None) -> Any:
    """A record field: its unit and one-line description (see `Column`)."""
    return dataclasses.field(metadata={"unit": unit, "description": description, "show": show})


_ARROW_TYPES = {int: "int64", float: "float64", str: "string", bool: "bool", tuple: "string"}


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(int|float|str|bool|tuple, optional) of a field's resolved annotation."""
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0]
    if typing.get_origin(annotation) is tuple:
        annotation = tuple
    if annotation not in _ARROW_TYPES:
        raise TypeError(f"result fields are int, float, str, bool or tuple[str, ...], not {annotation!r}")
    return annotation, optional


class Record:
    """Base of the result records. Subclasses are frozen dataclasses whose fields are declared with
    `figure` (leaves) or are other records (parts, flattened in order)."""

    TITLE: ClassVar[str] = ""

    @classmethod
    def columns(cls) -> list[Column]:
        hints = _hints(cls)
        out: list[Column] = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            hint = hints[f.name]
            part = _record_type(hint)
            if part is not None:
                out.extend(dataclasses.replace(c, optional=c.optional or _is_optional(hint)) for c in part.columns())
                continue
            kind, optional = _base_type(hint)
            out.append(Column(f.name, f.metadata["unit"], kind, f.metadata["description"], optional,
                              f.metadata["show"]))
        return out

    @classmethod
    def names(cls) -> list[str]:
        return [c.name for c in cls.columns()]

    def flat(self) -> dict[str, Any]:
        """Field name -> value, parts flattened in order; an absent part gives None for its fields."""
        out: dict[str, Any] = {}
        hints = _hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            part = _record_type(hints[f.name])
            if part is None:
                out[f.name] = value
            elif value is None:
                out.update(dict.fromkeys(part.names()))
            else:
                out.update(value.flat())
        return out


@functools.cache
def _hints(record: type) -> dict[str, Any]:
    # Resolving the annotations (strings under `from __future__ import annotations`) is the slow part
    # of flattening a record, and a sweep flattens thousands.
    return typing.get_type_hints(record)


def _record_type(hint: Any) -> type[Record] | None:
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    for a in args:
        if isinstance(a, type) and issubclass(a, Record):
            return a
    return None


def _is_optional(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


# --- tables ------------------------------------------------------------------------------------------

def cell(value: Any) -> Any:
    """A value as a table cell: tuples comma-joined, numpy scalars as Python values."""
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def table(records: Iterable[Record], columns: Sequence[Column]) -> pd.DataFrame:
    """One row per record, one column per field, in declaration order, with the schema's dtypes."""
    rows = [{k: cell(v) for k, v in r.flat().items()} for r in records]
    return _typed(pd.DataFrame(rows, columns=[c.name for c in columns]), columns)


def _typed(frame: pd.DataFrame, columns: Sequence[Column]) -> pd.DataFrame:
    """``frame`` with the schema's dtypes on the given columns (nullable where a field is optional)."""
    out = frame.copy()
    for c in columns:
        if c.name not in out.columns:
            continue
        if c.type is float:
            out[c.name] = pd.to_numeric(out[c.name], errors="coerce").astype("float64")
        elif c.type is int and not c.optional and not out[c.name].isna().any():
            out[c.name] = out[c.name].astype("int64")
        elif c.type is bool and not c.optional and not out[c.name].isna().any():
            out[c.name] = out[c.name].astype(bool)
    return out


def arrow_schema(columns: Sequence[Column]) -> Any:
    """The Parquet schema of a table of these columns, each field carrying its unit and description."""
    import pyarrow as pa

    return pa.schema([pa.field(c.name, pa.type_for_alias(_ARROW_TYPES[c.type]), nullable=True,
                               metadata={"unit": c.unit, "description": c.description}) for c in columns])
