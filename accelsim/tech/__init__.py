"""Energy and area reference tables (data in ``hwconfigs/tech``) and the figures of one config.

- `load_table(name_or_path)` -> `Table`; `Table.lookup(component, action, **params)` -> `Entry`.
- `TechModel(cfg)`: every figure the engine needs for a `HardwareConfig`, in pJ / pJ/bit / mW /
  mm2, each an `Entry` with its source; `TechModel.used()` lists the entries a run relied on.
"""

from accelsim.tech.model import TechModel
from accelsim.tech.tables import Entry, Table, TableError, TableRangeError, load_table


def lookup(table: str, component: str, action: str, **params) -> Entry:
    """One figure from one table, e.g. ``lookup("horowitz-45nm", "sram", "read", tech_node_nm=45,
    size_bytes=32768, width_bits=64)`` -> 20 pJ."""
    return load_table(table).lookup(component, action, **params)


__all__ = ["Entry", "Table", "TableError", "TableRangeError", "TechModel", "load_table", "lookup"]
