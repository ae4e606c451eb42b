"""Miss rate against false positives per image, the Caltech benchmark's plot (``dbEval.m``, v3.2.1):
one step curve per variant on log-log axes, the legend ranked by log-average miss rate with its
interval, the FPPI range the log-average is taken over shaded.

Rendering goes through a ``Figure`` with an Agg canvas, never pyplot, so no global backend or figure
registry changes under the caller; ``miss_rate_figure`` returns that Figure so tests can read it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

CURVE_COLUMNS = ("variant", "fppi", "miss_rate")
SUMMARY_COLUMNS = ("variant", "miss_rate_lamr", "miss_rate_lamr_ci_low", "miss_rate_lamr_ci_high", "frames",
                   "positives")

# dbEval's axes: miss rate from .05 to 1 with its uneven ticks (.64 is its own choice, kept so that plots
# can be laid over the published ones), FPPI over four decades.
MISS_RATE_TICKS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.64, 0.8, 1.0)
MISS_RATE_RANGE = (0.05, 1.0)
FPPI_RANGE = (1e-3, 1e1)
# The log-average samples nine FPPI points evenly in log space over this range (metric.REASONABLE).
LAMR_FPPI_RANGE = (1e-2, 1e0)

# Okabe & Ito's colour-blind-safe palette (black dropped: it reads as an axis); the dash patterns
# tell curves apart in greyscale print too.
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#999999")
_DASHES = ("-", (0, (6, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2)))

# Deterministic files: SVG element ids come from this salt instead of a random one, and no dates or
# software versions are stamped into either file.
_RC = {"svg.hashsalt": "accelsim", "font.size": 10, "axes.titlesize": 11, "legend.fontsize": 9}
_SVG_METADATA = {"Date": None, "Creator": None}
_PNG_METADATA = {"Software": None}
PNG_DPI = 150
FIGURE_WIDTH_IN = 6.4
AXES_HEIGHT_IN = 4.4  # with title and axis labels
LEGEND_ROW_IN = 0.2


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(missing)}; expected {', '.join(columns)}")


def step_points(fppi: np.ndarray, miss_rate: np.ndarray, fppi_min: float) -> tuple[np.ndarray, np.ndarray]:
    """The fewest vertices that draw the same ``steps-post`` line as a curve with one point per
    detection. A detection adds a point that either lowers the miss rate at the same FPPI (a true
    positive) or moves right at the same miss rate (a false positive): only the last point of each FPPI
    and the first of each miss rate (plus the curve's end) change the drawing. Before its first point
    the curve is at miss rate 1 (nothing detected yet), and FPPI left of the axis is drawn at its edge.
    """
    keep = np.isfinite(fppi) & np.isfinite(miss_rate)
    fppi = np.concatenate(([fppi_min], np.maximum(fppi[keep], fppi_min)))
    miss_rate = np.concatenate(([1.0], miss_rate[keep]))
    last_of_fppi = np.append(fppi[1:] != fppi[:-1], True)
    fppi, miss_rate = fppi[last_of_fppi], miss_rate[last_of_fppi]
    first_of_miss = np.concatenate(([True], miss_rate[1:] != miss_rate[:-1]))
    first_of_miss[-1] = True
    return fppi[first_of_miss], miss_rate[first_of_miss]


def _percent(value: float) -> str:
    return f"{100 * value:.1f}"


def legend_label(row: Mapping) -> str:
    """dbEval's legend entry, the log-average miss rate before the name, with the interval between:
    ``55.8% [52.1–59.6] dense (fp32)``; no bracket where the interval is unknown."""
    lamr, low, high = row["miss_rate_lamr"], row["miss_rate_lamr_ci_low"], row["miss_rate_lamr_ci_high"]
    text = "n/a" if pd.isna(lamr) else f"{_percent(lamr)}%"
    if not (pd.isna(low) or pd.isna(high)):
        text += f" [{_percent(low)}–{_percent(high)}]"
    return f"{text} {row['variant']}"


def _evidence(frames: int, positives: int) -> str:
    return f"{frames:,} frame{'s' * (frames != 1)}, {positives:,} positive{'s' * (positives != 1)}"


def _fppi_range(curves: pd.DataFrame) -> tuple[float, float]:
    """dbEval's four decades, widened down to a whole decade where the first false positive lies below
    10^-3 (more than 1,000 frames), so that each curve's start stays in view. The right end stays at 10
    as in the published plots; curves run on past it."""
    fppi = curves["fppi"].to_numpy(dtype=float)
    fppi = fppi[np.isfinite(fppi) & (fppi > 0)]
    if not len(fppi):
        return FPPI_RANGE
    return min(FPPI_RANGE[0], 10.0 ** np.floor(np.log10(fppi.min()))), FPPI_RANGE[1]


def miss_rate_figure(curves: pd.DataFrame, summary: pd.DataFrame, title: str | None = None):
    """The plot as a matplotlib ``Figure`` (with an Agg canvas), not yet written anywhere.

    ``curves``: columns ``variant``, ``fppi``, ``miss_rate``, a row per curve point in curve order
    (one per detection, by descending score). ``summary``: a row per variant with ``variant``,
    ``miss_rate_lamr``, ``miss_rate_lamr_ci_low``, ``miss_rate_lamr_ci_high`` (NaN: no interval),
    ``frames``, ``positives``. A variant in ``summary`` without curve rows had no detections; a curve
    without a summary row is an error, since its legend entry could not be written.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedFormatter, FixedLocator, LogLocator, NullFormatter, NullLocator

    _require(curves, CURVE_COLUMNS, "curves")
    _require(summary, SUMMARY_COLUMNS, "summary")
    if summary["variant"].duplicated().any():
        raise ValueError(f"summary has more than one row for variant(s) "
                         f"{', '.join(map(str, summary['variant'][summary['variant'].duplicated()].unique()))}")
    unknown = sorted(set(curves["variant"]) - set(summary["variant"]))
    if unknown:
        raise ValueError(f"curves has variant(s) {', '.join(map(str, unknown))} that summary lacks")
    miss = curves["miss_rate"].to_numpy(dtype=float)
    if ((miss < 0) | (miss > 1)).any():
        raise ValueError("curves: miss_rate must lie in [0, 1] (a fraction, not a percentage)")

    # dbEval ranks by log-average miss rate, best first; unknown ones go last, in their given order.
    ranked = summary.assign(_order=summary["miss_rate_lamr"].fillna(np.inf)).sort_values(
        "_order", kind="stable")
    fppi_min, fppi_max = _fppi_range(curves)
    by_variant = {name: group for name, group in curves.groupby("variant", sort=False)}

    with matplotlib.rc_context(_RC):
        # The legend goes under the axes, where no curve can run beneath it; the figure grows by a
        # legend row per variant so that the axes keep their size.
        fig = Figure(figsize=(FIGURE_WIDTH_IN, AXES_HEIGHT_IN + LEGEND_ROW_IN * (len(ranked) + 2)),
                     layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        band = ax.axvspan(*LAMR_FPPI_RANGE, color="0.92", zorder=0, linewidth=0,
                          label="FPPI range of the log-average")
        lines = []
        for i, row in enumerate(ranked.to_dict("records")):
            group = by_variant.get(row["variant"])
            if group is None:
                xs, ys, label = np.array([]), np.array([]), legend_label(row) + " (no detections)"
            else:
                xs, ys = step_points(group["fppi"].to_numpy(dtype=float),
                                     group["miss_rate"].to_numpy(dtype=float), fppi_min)
                label = legend_label(row)
            lines += ax.plot(xs, np.maximum(ys, MISS_RATE_RANGE[0]), drawstyle="steps-post", linewidth=1.8,
                             color=_COLOURS[i % len(_COLOURS)], linestyle=_DASHES[i % len(_DASHES)],
                             label=label, zorder=3)

        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(fppi_min, fppi_max)
        ax.set_ylim(*MISS_RATE_RANGE)
        ax.yaxis.set_major_locator(FixedLocator(MISS_RATE_TICKS))
        ax.yaxis.set_major_formatter(FixedFormatter([f"{t:.2f}".lstrip("0") if t < 1 else "1"
                                                     for t in MISS_RATE_TICKS]))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_locator(LogLocator(base=10, numticks=20))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="major", color="0.8", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_xlabel("false positives per image")
        ax.set_ylabel("miss rate")

        evidence = ranked[["frames", "positives"]].drop_duplicates()
        if len(evidence) == 1:
            subtitle = _evidence(int(evidence["frames"].iloc[0]), int(evidence["positives"].iloc[0]))
        else:
            subtitle = "; ".join(f"{r.variant}: {_evidence(int(r.frames), int(r.positives))}"
                                 for r in ranked.itertuples(index=False))
        # the figure is 960 px wide: a long title (dataset, formats) wraps instead of running off it
        ax.set_title(f"{textwrap.fill(title, 72)}\n{subtitle}" if title else subtitle, loc="left")
        # The ranked curves first, as in dbEval, then the band's key.
        fig.legend(handles=[*lines, band], loc="outside lower left", frameon=False,
                   title="log-average miss rate [interval]", title_fontsize=9, alignment="left",
                   handlelength=2.6)
    return fig


def miss_rate_curves(curves: pd.DataFrame, summary: pd.DataFrame, out_stem: Path,
                     title: str | None = None) -> list[Path]:
    """Write the plot as ``<out_stem>.png`` and ``<out_stem>.svg`` (byte-identical for identical input)
    and return both paths. Tables as ``miss_rate_figure`` takes them."""
    import matplotlib

    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    fig = miss_rate_figure(curves, summary, title)
    png, svg = (out_stem.parent / f"{out_stem.name}.{ext}" for ext in ("png", "svg"))
    with matplotlib.rc_context(_RC):
        fig.savefig(png, dpi=PNG_DPI, metadata=_PNG_METADATA)
        fig.savefig(svg, metadata=_SVG_METADATA)
    return [png, svg]
