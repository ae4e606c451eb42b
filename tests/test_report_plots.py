"""The miss-rate plot (report/plots.py) and the per-frame evidence picture (report/pictures.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from accelsim.report.pictures import STYLES, draw_detections
from accelsim.report.plots import (AXES_HEIGHT_IN, FIGURE_WIDTH_IN, PNG_DPI, miss_rate_curves, miss_rate_figure,
                                   step_points)


def _curve(variant: str, is_tp: list[int], frames: int, positives: int) -> pd.DataFrame:
    """A curve as the evaluator writes it: one point per detection, by descending score."""
    tp = np.asarray(is_tp)
    return pd.DataFrame({"variant": variant, "fppi": np.cumsum(1 - tp) / frames,
                         "miss_rate": 1 - np.cumsum(tp) / positives})


def _summary(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["variant", "miss_rate_lamr", "miss_rate_lamr_ci_low",
                                       "miss_rate_lamr_ci_high", "frames", "positives"])


@pytest.fixture
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    curves = pd.concat([_curve("int8 pruned", list(rng.random(3000) < 0.05), 200, 287),
                        _curve("dense (fp32)", list(rng.random(3000) < 0.08), 200, 287)], ignore_index=True)
    summary = _summary([("int8 pruned", 0.6123, 0.574, 0.651, 200, 287),
                        ("dense (fp32)", 0.5579, 0.5214, 0.5962, 200, 287)])
    return curves, summary


def _legend(fig) -> list[str]:
    (legend,) = fig.legends
    return [t.get_text() for t in legend.get_texts()]


def test_legend_ranks_by_lamr_and_shows_the_interval(tables):
    fig = miss_rate_figure(*tables, title="deepped-small")
    assert _legend(fig)[:2] == ["55.8% [52.1–59.6] dense (fp32)", "61.2% [57.4–65.1] int8 pruned"]
    assert fig.axes[0].get_title(loc="left") == "deepped-small\n200 frames, 287 positives"
    ax = fig.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlim() == pytest.approx((1e-3, 1e1))
    assert ax.get_ylim() == pytest.approx((0.05, 1.0))
    assert all(line.get_drawstyle() == "steps-post" for line in ax.get_lines())


def test_files_are_written_and_deterministic(tables, tmp_path):
    png, svg = miss_rate_curves(*tables, tmp_path / "out" / "curves.dense", title="t")
    assert (png.name, svg.name) == ("curves.dense.png", "curves.dense.svg")
    with Image.open(png) as image:
        assert image.width == round(FIGURE_WIDTH_IN * PNG_DPI)
        assert image.height > AXES_HEIGHT_IN * PNG_DPI  # the legend adds its rows under the axes
    first = (png.read_bytes(), svg.read_bytes())
    miss_rate_curves(*tables, tmp_path / "out" / "curves.dense", title="t")
    assert (png.read_bytes(), svg.read_bytes()) == first
    # The SVG carries the legend's words, so a reader's search finds them.
    assert "55.8% [52.1–59.6] dense (fp32)" in svg.read_text(encoding="utf-8")


def test_no_detections_and_unknown_intervals(tmp_path):
    summary = _summary([("a", 0.7, np.nan, np.nan, 20, 12), ("b", 1.0, np.nan, np.nan, 20, 12),
                        ("c", np.nan, np.nan, np.nan, 20, 0)])
    curves = _curve("a", [1, 0, 1, 0, 0], 20, 12)
    assert _legend(miss_rate_figure(curves, summary)) == [
        "70.0% a", "100.0% b (no detections)", "n/a c (no detections)", "FPPI range of the log-average"]
    empty = pd.DataFrame({"variant": pd.Series(dtype=str), "fppi": pd.Series(dtype=float),
                          "miss_rate": pd.Series(dtype=float)})
    assert all(p.stat().st_size > 0 for p in miss_rate_curves(empty, summary, tmp_path / "none"))


def test_evidence_per_variant_when_it_differs():
    summary = _summary([("a", 0.5, 0.4, 0.6, 100, 150), ("b", 0.4, 0.3, 0.5, 1, 1)])
    title = miss_rate_figure(_curve("a", [1, 0], 100, 150), summary).axes[0].get_title(loc="left")
    assert title == "b: 1 frame, 1 positive; a: 100 frames, 150 positives"


def test_many_frames_widen_the_fppi_axis_to_the_first_false_positive():
    summary = _summary([("a", 0.5, np.nan, np.nan, 5000, 100)])
    fig = miss_rate_figure(_curve("a", [1, 0, 0, 1], 5000, 100), summary)
    assert fig.axes[0].get_xlim() == pytest.approx((1e-4, 1e1))


def test_step_points_keep_the_drawing_with_fewer_vertices():
    # Two TPs at FPPI 0, an FP, an FP + TP at FPPI 1, an FP: the same steps from three vertices.
    x, y = step_points(np.array([0, 0, 0.5, 1.0, 1.0, 1.5]), np.array([.9, .8, .8, .8, .7, .7]), 1e-3)
    assert x.tolist() == [1e-3, 1.0, 1.5] and y.tolist() == [.8, .7, .7]
    # A first false positive: the curve starts at miss rate 1 from the axis's left edge.
    x, y = step_points(np.array([0.5, 0.5]), np.array([1.0, 0.9]), 1e-3)
    assert x.tolist() == [1e-3, 0.5] and y.tolist() == [1.0, 0.9]


@pytest.mark.parametrize("table, column", [("curves", "fppi"), ("summary", "miss_rate_lamr_ci_high")])
def test_missing_columns_are_named(tables, table, column):
    curves, summary = tables
    if table == "curves":
        curves = curves.drop(columns=column)
    else:
        summary = summary.drop(columns=column)
    with pytest.raises(ValueError, match=f"{table} lacks column.*{column}"):
        miss_rate_figure(curves, summary)


def test_bad_tables_are_refused(tables):
    curves, summary = tables
    with pytest.raises(ValueError, match="variant.*int8 pruned.*summary lacks"):
        miss_rate_figure(curves, summary.iloc[1:])
    with pytest.raises(ValueError, match="fraction"):
        miss_rate_figure(curves.assign(miss_rate=curves["miss_rate"] * 100), summary)
    with pytest.raises(ValueError, match="more than one row.*dense"):
        miss_rate_figure(curves, pd.concat([summary, summary.iloc[1:]]))


# --- pictures -----------------------------------------------------------------------------------

_BACKGROUND = (100, 100, 100)
# One box per kind, apart from each other and from the frame's top (tags go above boxes).
_BOXES = {("ground_truth", "matched"): (20, 40, 30, 60), ("ground_truth", "missed"): (80, 40, 30, 60),
          ("ground_truth", "ignore"): (140, 40, 30, 60), ("detection", "tp"): (20, 130, 30, 50),
          ("detection", "fp"): (80, 130, 30, 50), ("detection", "ignored"): (140, 130, 30, 50)}


def _evidence(**overrides) -> pd.DataFrame:
    rows = [{"kind": "frame", "x_px": np.nan, "y_px": np.nan, "w_px": np.nan, "h_px": np.nan, "score": np.nan,
             "label": "", "status": ""}]
    for (kind, status), (x, y, w, h) in _BOXES.items():
        rows.append({"kind": kind, "x_px": x, "y_px": y, "w_px": w, "h_px": h, "status": status,
                     "score": 0.87 if kind == "detection" else np.nan,
                     "label": "ignore" if status == "ignore" else ("person" if kind == "ground_truth" else "")})
    return pd.DataFrame(rows).assign(**overrides)


def _frame() -> np.ndarray:
    return np.full((200, 200, 3), _BACKGROUND, dtype=np.uint8)


def test_each_kind_is_drawn_in_its_colour_and_pattern(tmp_path):
    path = draw_detections(_frame(), _evidence(), tmp_path / "f.png", title="frame 3", scale=1.0)
    with Image.open(path) as image:
        assert image.width == 200 and image.height > 200  # the key sits under the frame
        pixels = np.asarray(image.convert("RGB"))
    shown_background = tuple(pixels[195, 195])  # the frame is shown muted: no box comes near this pixel
    for kind, (x, y, w, h) in _BOXES.items():
        style = STYLES[kind]
        # Every outline is inked at its corners, dashed or not.
        assert tuple(pixels[y + 1, x]) == style.colour, kind
        assert tuple(pixels[y + h // 2, x + w // 2]) == shown_background, kind
        left_edge = [tuple(p) for p in pixels[y + 1:y + h - 1, x]]
        if style.dash_px is None:
            assert set(left_edge) == {style.colour}, kind
        else:  # gaps tell a dashed line from a solid one without its colour
            assert style.colour in left_edge and len(set(left_edge)) > 1, kind
    # The missed person, the one the picture is for, has the thickest line.
    assert max(STYLES.values(), key=lambda s: s.width_px) is STYLES["ground_truth", "missed"]


def test_picture_size_scale_and_determinism(tmp_path):
    a = draw_detections(_frame(), _evidence(), tmp_path / "a.png")
    b = draw_detections(_frame(), _evidence(), tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()
    with Image.open(a) as image:
        assert image.width == 300 and image.height > 300


def test_a_frame_without_boxes_is_drawn(tmp_path):
    empty = _evidence().iloc[:1]
    with Image.open(draw_detections(_frame(), empty, tmp_path / "e.png", scale=1.0)) as image:
        assert image.width == 200


@pytest.mark.parametrize("column", ["kind", "x_px", "h_px", "status"])
def test_missing_columns_are_named_for_pictures(tmp_path, column):
    with pytest.raises(ValueError, match=f"lacks column.*{column}"):
        draw_detections(_frame(), _evidence().drop(columns=column), tmp_path / "x.png")


def test_bad_values_are_named(tmp_path):
    with pytest.raises(ValueError, match="column status.*'maybe'.*detection"):
        draw_detections(_frame(), _evidence().replace({"status": {"fp": "maybe"}}), tmp_path / "x.png")
    with pytest.raises(ValueError, match="column kind.*'proposal'"):
        draw_detections(_frame(), _evidence().replace({"kind": {"detection": "proposal"}}), tmp_path / "x.png")
    with pytest.raises(ValueError, match="column score"):
        draw_detections(_frame(), _evidence().drop(columns="score"), tmp_path / "x.png")
    with pytest.raises(ValueError, match="RGB uint8"):
        draw_detections(_frame().astype(np.float32), _evidence(), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
