"""The energy/area figures of one hardware config, looked up once, each traceable to its source.

`TechModel(cfg)` reads the tables the config selects (``tables:``) and computes, before any
simulation, every figure the engine multiplies by event counts. All figures come back as `Entry`
objects in one set of units so the engine never converts:

=====================================  ==========  ============================================
figure                                 unit        meaning
=====================================  ==========  ============================================
``sram_read`` / ``sram_write``          pJ          one access of one bank (``bank_width_bits``)
``sram_leakage``                        mW          all banks together
``sram_area``                           mm2         all banks together
``sram_access_time``                    ns          one bank: address in to data out (CACTI);
                                                    None where the table has no timing (Horowitz)
``sram_cycle_time``                     ns          one bank: shortest interval between accesses
                                                    (CACTI random cycle time); None likewise
``decoder_lookup``                      pJ          one codebook lookup (one entry read)
``decoder_leakage`` / ``decoder_area``  mW / mm2    all decoders together
``mac``                                 pJ          one multiply-accumulate
``mac_leakage`` / ``mac_area``          mW / mm2    the whole array
``accumulator_read`` / ``_write``       pJ          one partial sum (``accumulator_bits``) read from or
                                                    written to a column's accumulator buffer; only
                                                    with ``accumulators`` in the config
``accumulator_leakage`` / ``_area``     mW / mm2    all columns' buffers together
``dram_read`` / ``dram_write``          pJ/bit      per bit transferred
``dram_activate``                       pJ          activate + precharge of one row on one channel
                                                    (all devices of the channel)
``dram_refresh``                        pJ          one refresh command on one channel
``dram_background``                     mW          all channels, whole run (active standby)
=====================================  ==========  ============================================

`lookup(component, action, **context)` is the general form: it passes the table only the
parameters it depends on, and records every entry it returns; `used()` lists them for the run's
output, so each reported picojoule names the row and source it came from.
"""

from __future__ import annotations

import math
from typing import Any

from accelsim.config.hardware import HardwareConfig
from accelsim.tech.tables import Entry, Param, Table, TableError, load_table

# Tables used for a figure the selected table lacks (e.g. Horowitz has no leakage or area).
_FALLBACK = {"sram": "cacti-sram", "decoder": "cacti-decoder", "mac": "aladdin-mac", "dram": "drampower",
             "accumulator": "cacti-decoder"}
# Context that a table may ignore without changing the figure's meaning.
_NEUTRAL: dict[str, Param] = {"ports": 1, "number": "int"}


class TechModel:
    """Figures for ``cfg``; raises `TableError` (with the config name) if a table cannot supply one."""

    def __init__(self, cfg: HardwareConfig):
        self.cfg = cfg
        self._tables: dict[str, Table] = {}
        self._used: dict[str, Entry] = {}
        t = cfg.tables
        self.selected = {"sram": t.sram, "decoder": t.decoder, "mac": t.mac, "dram": t.dram,
                         "accumulator": t.accumulator}
        try:
            self._compute()
        except TableError as exc:
            raise type(exc)(f"hardware config '{cfg.name}': {exc}") from None

    # --- general lookup ----------------------------------------------------------------------

    def table(self, name: str) -> Table:
        if name not in self._tables:
            self._tables[name] = load_table(name)
        return self._tables[name]

    def lookup(self, component: str, action: str, *, table: str | None = None, record: bool = True, **context: Param) -> Entry:
        """``component.action`` from ``table`` (default: the one the config selects for it).

        Context the table does not depend on is dropped; if it is not neutral (``ports=2`` for a
        table without ports) the entry's note says it was not modelled.
        """
        group = "mac" if component in ("mac", "multiplier", "adder") else component
        name = table or self.selected.get(group) or _FALLBACK[group]
        tab = self.table(name)
        names = tab.param_names(component, action)
        params = {k: v for k, v in context.items() if k in names}
        ignored = [f"{k}={v}" for k, v in context.items() if k not in names and _NEUTRAL.get(k) != v]
        entry = tab.lookup(component, action, **params)
        if ignored:
            extra = f"not modelled by {name}: {', '.join(ignored)}"
            entry = Entry(entry.value, entry.unit, entry.source, entry.key, "; ".join(filter(None, [entry.note, extra])))
        if record:
            self._record(entry)
        return entry

    def used(self) -> list[Entry]:
        """Every entry returned so far, in first-use order (figures and their ingredients)."""
        return list(self._used.values())

    def _record(self, entry: Entry) -> Entry:
        self._used.setdefault(entry.key, entry)
        return entry

    def _with_fallback(self, component: str, action: str, **context: Param) -> Entry:
        group = "mac" if component in ("mac", "multiplier", "adder") else component
        selected = self.selected[group]
        if self.table(selected).has(component, action):
            return self.lookup(component, action, **context)
        entry = self.lookup(component, action, table=_FALLBACK[group], **context)
        note = f"{selected} has no {component}.{action}; taken from {_FALLBACK[group]}"
        return Entry(entry.value, entry.unit, entry.source, entry.key, "; ".join(filter(None, [entry.note, note])))

    # --- the figures -------------------------------------------------------------------------

    def _compute(self) -> None:
        cfg, s, d, m, dr = self.cfg, self.cfg.sram, self.cfg.decoders, self.cfg.mac_array, self.cfg.dram
        node = cfg.tech_node_nm
        bank = dict(tech_node_nm=node, ports=s.ports_per_bank, size_bytes=s.bank_size, width_bits=s.bank_width_bits)
        self.sram_read = self._fig(self.lookup("sram", "read", **bank), "pJ")
        self.sram_write = self._fig(self._with_fallback("sram", "write", **bank), "pJ")
        self.sram_leakage = self._fig(self._with_fallback("sram", "leakage", **bank), "mW", s.banks, f"{s.banks} banks")
        self.sram_area = self._fig(self._with_fallback("sram", "area", **bank), "mm2", s.banks, f"{s.banks} banks")
        # Timing of one bank, from the selected table only: a table without it (Horowitz's energy
        # figures) leaves it None and the engine assumes single-cycle banks; no other table's timing
        # is borrowed for a bank whose energy it did not price.
        self.sram_access_time = self._timing("access_time", bank)
        self.sram_cycle_time = self._timing("cycle_time", bank)

        table = dict(tech_node_nm=node, entries=d.entries, value_bits=d.value_bits)
        self.decoder_lookup = self._fig(self.lookup("decoder", "read", **table), "pJ")
        self.decoder_leakage = self._fig(self._with_fallback("decoder", "leakage", **table), "mW", d.count, f"{d.count} decoders")
        self.decoder_area = self._fig(self._with_fallback("decoder", "area", **table), "mm2", d.count, f"{d.count} decoders")

        # One multiplier of a x b bits costs like a square one of sqrt(a*b) bits: multiplier energy
        # and area grow with the product of the operand widths (quadratic for square operands).
        mult_bits = math.sqrt(m.weight_bits * m.activation_bits)
        mac_ctx = dict(tech_node_nm=node, number="int", multiplier_bits=mult_bits, adder_bits=m.accumulator_bits)
        self.mac = self._fig(self._mac_energy(mac_ctx), "pJ")
        n = m.macs_per_cycle
        self.mac_leakage = self._fig(self._with_fallback("mac", "leakage", **mac_ctx), "mW", n, f"{n} MACs")
        self.mac_area = self._fig(self._with_fallback("mac", "area", **mac_ctx), "mm2", n, f"{n} MACs")

        self._accumulators()

        dev, ch = dr.devices_per_channel, dr.channels
        self.dram_read = self._dram("read", "read_energy_per_bit", "pJ/bit")
        self.dram_write = self._dram("write", "write_energy_per_bit", "pJ/bit")
        self.dram_activate = self._dram("activate", "activate_energy", "pJ", dev, f"{dev} devices per channel")
        self.dram_refresh = self._dram("refresh", "refresh_energy", "pJ", dev, f"{dev} devices per channel")
        self.dram_background = self._dram("background", "background_power", "mW", dev * ch, f"{dev} devices x {ch} channels")

    def _fig(self, entry: Entry, unit: str, factor: float = 1, why: str = "") -> Entry:
        out = entry.converted(unit)
        if why:
            out = out.scaled(factor, why)
        return self._record(out)

    def _accumulators(self) -> None:
        """The accumulator buffers' figures (None without ``accumulators``). A table with an ``accumulator``
        component prices them as such; otherwise each column's buffer is priced as a small SRAM array of
        ``entries`` words of ``accumulator_bits``, from the table's ``decoder`` rows (CACTI's small-array
        model, which the codebook tables use for the same geometry)."""
        acc, m = self.cfg.accumulators, self.cfg.mac_array
        self.accumulator_read = self.accumulator_write = self.accumulator_leakage = self.accumulator_area = None
        if acc is None:
            return
        name = self.selected["accumulator"]
        component = "accumulator" if self.table(name).has("accumulator", "read") else "decoder"
        ctx = dict(tech_node_nm=self.cfg.tech_node_nm, entries=acc.entries, value_bits=m.accumulator_bits)
        why = "" if component == "accumulator" else (
            f"one column's accumulator buffer ({acc.entries} x {m.accumulator_bits} bits) priced as the small SRAM "
            f"array of {name}'s decoder rows")

        def get(action: str) -> Entry:
            try:
                entry = self.lookup(component, action, table=name, **ctx)
            except TableError as exc:  # name the config's field, not only the table's row
                raise type(exc)(f"accumulators ({acc.entries} entries of {m.accumulator_bits} bits): {exc}") from None
            return Entry(entry.value, entry.unit, entry.source, entry.key, "; ".join(filter(None, [entry.note, why])))

        n = m.cols
        self.accumulator_read = self._fig(get("read"), "pJ")
        self.accumulator_write = self._fig(get("write"), "pJ")
        self.accumulator_leakage = self._fig(get("leakage"), "mW", n, f"{n} columns")
        self.accumulator_area = self._fig(get("area"), "mm2", n, f"{n} columns")

    def _timing(self, action: str, bank: dict[str, Param]) -> Entry | None:
        if not self.table(self.selected["sram"]).has("sram", action):
            return None
        return self._fig(self.lookup("sram", action, **bank), "ns")

    def _mac_energy(self, ctx: dict[str, Any]) -> Entry:
        tab = self.table(self.selected["mac"])
        if tab.has("mac", "compute"):
            return self.lookup("mac", "compute", **ctx)
        # Tables of separate operations (Horowitz): a MAC is one multiply plus one accumulate add.
        node, number = ctx["tech_node_nm"], ctx["number"]
        mult = self.lookup("multiplier", "compute", tech_node_nm=node, number=number,
                           multiplier_bits=ctx["multiplier_bits"]).converted("pJ")
        add = self.lookup("adder", "compute", tech_node_nm=node, number=number, adder_bits=ctx["adder_bits"]).converted("pJ")
        return Entry(
            mult.value + add.value, "pJ", f"{mult.source}; {add.source}",
            f"{tab.name}:mac.compute = {mult.key} + {add.key}",
            "; ".join(filter(None, ["multiply + accumulate add", mult.note, add.note])),
        )

    def _dram(self, action: str, override: str, unit: str, factor: float = 1, why: str = "") -> Entry:
        value = getattr(self.cfg.dram, override)
        if value is not None:  # the config overrides the table (value in SI base units)
            si_unit = {"pJ/bit": "J/bit", "pJ": "J", "mW": "W"}[unit]
            entry = Entry(value, si_unit, f"hardware config '{self.cfg.name}': dram.{override} (override)",
                          f"config:dram.{override}")
        else:
            entry = self.lookup("dram", action, part=self.cfg.dram.part)
        return self._fig(entry, unit, factor, why)

    # --- summaries -----------------------------------------------------------------------------

    def figures(self) -> dict[str, Entry]:
        """The per-config figures by name (see the module table); the SRAM timing only where the table has it."""
        names = ["sram_read", "sram_write", "sram_leakage", "sram_area", "sram_access_time", "sram_cycle_time",
                 "decoder_lookup", "decoder_leakage", "decoder_area", "mac", "mac_leakage", "mac_area",
                 "accumulator_read", "accumulator_write", "accumulator_leakage", "accumulator_area", "dram_read",
                 "dram_write", "dram_activate", "dram_refresh", "dram_background"]
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    @property
    def area_mm2(self) -> float:
        """On-chip area of SRAM + decoders + MAC array (+ accumulator buffers), mm2 (no interconnect or control)."""
        acc = self.accumulator_area.value if self.accumulator_area is not None else 0.0
        return self.sram_area.value + self.decoder_area.value + self.mac_area.value + acc
