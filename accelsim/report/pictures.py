"""One frame's evaluation evidence as a picture: ground truth (matched, missed, ignore regions) and
detections (true positive, false positive with its score, ignored) drawn over the frame, with a key
that counts each kind.

Each kind differs in line style and thickness as well as colour, so the picture reads in greyscale
and for colour-blind readers: ground truth is solid, detections dashed, what is ignored dotted or
dashed in grey, and the thickest line is the person the detector missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

BOX_COLUMNS = ("kind", "x_px", "y_px", "w_px", "h_px", "status")


@dataclass(frozen=True)
class Style:
    key: str  # the key's words for this kind
    colour: tuple[int, int, int]
    width_px: float  # at scale 1
    dash_px: tuple[float, float] | None  # (ink, gap) at scale 1; None: solid
    halo: bool  # a dark rim, so that a light line stays visible on a light background


# Okabe & Ito's colour-blind-safe colours. Draw order is this dict's order: faint things first, the
# missed person last, on top of everything.
STYLES: dict[tuple[str, str], Style] = {
    ("ground_truth", "ignore"): Style("ignore region", (170, 170, 170), 1.5, (6, 4), True),
    ("detection", "ignored"): Style("ignored detection", (235, 235, 235), 1.0, (2, 3), False),
    ("ground_truth", "matched"): Style("matched person", (0, 158, 115), 2.0, None, True),
    ("detection", "tp"): Style("true positive", (86, 180, 233), 2.0, (7, 4), True),
    ("detection", "fp"): Style("false positive, score", (240, 228, 66), 2.5, (7, 4), True),
    ("ground_truth", "missed"): Style("missed person", (213, 94, 0), 4.0, None, True),
}
KINDS = {"detection": ("tp", "fp", "ignored"), "ground_truth": ("matched", "missed", "ignore")}
_HALO = (20, 20, 20)
_KEY_BACKGROUND = (255, 255, 255)
_TEXT = (20, 20, 20)
_CHIP = (128, 128, 128)
# The frame is shown desaturated and lightened toward grey so that the coloured boxes, not the scene,
# catch the eye; it also makes the PNG smaller.
_DESATURATE = 0.6
_FONT_PX = 13  # at scale 1


def _font(size_px: int, bold: bool = False):
    # matplotlib (a dependency) ships DejaVu Sans: the same glyphs on every machine, hence the same PNG.
    import matplotlib
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size_px)


def _check(image: np.ndarray, boxes: pd.DataFrame) -> pd.DataFrame:
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
        raise ValueError(f"image must be RGB uint8 of shape (height, width, 3), got "
                         f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}")
    missing = [c for c in BOX_COLUMNS if c not in boxes.columns]
    if missing:
        raise ValueError(f"boxes lacks column(s) {', '.join(missing)}; expected {', '.join(BOX_COLUMNS)}")
    unknown_kinds = sorted(set(boxes["kind"]) - set(KINDS) - {"frame"})
    if unknown_kinds:
        raise ValueError(f"boxes: column kind has unknown value(s) {unknown_kinds}; "
                         f"expected one of {sorted(KINDS)} or 'frame'")
    drawn = boxes[boxes["kind"] != "frame"]
    for kind, statuses in KINDS.items():
        bad = sorted(map(str, set(drawn.loc[drawn["kind"] == kind, "status"]) - set(statuses)))
        if bad:
            raise ValueError(f"boxes: column status has unknown value(s) {bad} for kind {kind!r}; "
                             f"expected one of {list(statuses)}")
    detections = drawn["kind"] == "detection"
    if detections.any() and "score" not in drawn.columns:
        raise ValueError("boxes lacks column score, which detections need")
    if detections.any() and not np.isfinite(drawn.loc[detections, "score"].to_numpy(dtype=float)).all():
        raise ValueError("boxes: column score must be a finite number on every detection")
    geometry = drawn[["x_px", "y_px", "w_px", "h_px"]].to_numpy(dtype=float)
    if not np.isfinite(geometry).all():
        raise ValueError("boxes: columns x_px, y_px, w_px, h_px must be finite numbers")
    return drawn


Rect = tuple[float, float, float, float]


def _edge_rects(a: tuple[float, float], b: tuple[float, float], width: float,
                dash: tuple[float, float] | None) -> list[Rect]:
    """The filled rectangles that ink one axis-aligned edge from ``a`` to ``b``, centred on it. The
    edge reaches half a line width past both ends so that edges meet in square corners, and dashes
    start at ``a``: every corner is inked, and a box of any size reads as a box."""
    (ax, ay), (bx, by) = a, b
    half = width / 2
    length = max(bx - ax, by - ay)
    starts = [0.0] if dash is None else list(np.arange(0.0, length, dash[0] + dash[1]))
    rects = []
    for start in starts:
        end = length if dash is None else min(start + dash[0], length)
        # Only the edge's own ends overhang; a dash's inner ends stay put, keeping the gaps open.
        lo = start - half if start == 0.0 else start
        hi = end + half if end == length else end
        if ax == bx:
            rects.append((ax - half, ay + lo, ax + half, ay + hi))
        else:
            rects.append((ax + lo, ay - half, ax + hi, ay + half))
    return rects


def _px(v: float) -> int:
    # Half-up, not Python's half-to-even: edges at x.5 must round alike on every side of a box.
    return int(np.floor(v + 0.5))


def _ink(draw, edges: list[tuple[tuple[float, float], tuple[float, float]]], style: Style, scale: float) -> None:
    """Draw ``edges`` (pairs of end points, output pixels) in ``style``. The halo runs unbroken under
    dashes, so a dashed line reads as colour alternating with dark on any background."""
    width, dash = _scaled(style, scale)

    def fill(rects: list[Rect], grow_px: int, colour: tuple[int, int, int]) -> None:
        for x0, y0, x1, y1 in rects:
            left, top = _px(x0), _px(y0)
            # At least one pixel each way: a one-pixel line centred on a pixel edge still shows.
            right, bottom = max(left, _px(x1) - 1), max(top, _px(y1) - 1)
            draw.rectangle((left - grow_px, top - grow_px, right + grow_px, bottom + grow_px), fill=colour)

    if style.halo:
        fill([r for a, b in edges for r in _edge_rects(a, b, width, None)], 1, _HALO)
    fill([r for a, b in edges for r in _edge_rects(a, b, width, dash)], 0, style.colour)


def _scaled(style: Style, scale: float) -> tuple[float, tuple[float, float] | None]:
    """Line width and dash pattern in output pixels; never thinner than one pixel."""
    dash = None if style.dash_px is None else (style.dash_px[0] * scale, style.dash_px[1] * scale)
    return max(1.0, style.width_px * scale), dash


def _draw_box(draw, box: tuple[float, float, float, float], style: Style, scale: float) -> None:
    x0, y0, w, h = (v * scale for v in box)
    x1, y1 = x0 + w, y0 + h
    _ink(draw, [((x0, y0), (x1, y0)), ((x0, y1), (x1, y1)), ((x0, y0), (x0, y1)), ((x1, y0), (x1, y1))],
         style, scale)


def _tag(draw, xy: tuple[float, float], text: str, style: Style, font, canvas: tuple[int, int]) -> None:
    """A filled label just above the box's top-left corner, or inside it where the frame's top edge
    leaves no room; text dark or light, whichever the fill's lightness calls for."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = 2
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    x = min(max(0, round(xy[0])), canvas[0] - w)
    y = round(xy[1]) - h - 1 if xy[1] - h - 1 >= 0 else round(xy[1]) + 2
    draw.rectangle((x, y, x + w - 1, y + h - 1), fill=style.colour, outline=_HALO)
    ink = _TEXT if sum(style.colour) > 400 else (255, 255, 255)
    draw.text((x + pad - left, y + pad - top), text, font=font, fill=ink)


def _wrap(text: str, font, width_px: int) -> list[str]:
    """``text`` in lines no wider than ``width_px``, broken between words."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and font.getlength(f"{lines[-1]} {word}") <= width_px:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _key(counts: dict[tuple[str, str], int], width_px: int, scale: float, title: str | None):
    """The strip under the frame: the title, then one entry per kind (a sample of its line and its
    count), wrapped to the frame's width."""
    from PIL import Image, ImageDraw

    font, bold = _font(round(_FONT_PX * scale)), _font(round(_FONT_PX * scale), bold=True)
    margin, gap, sample_px = round(8 * scale), round(18 * scale), round(36 * scale)
    line_px = round(_FONT_PX * scale * 1.6)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    # Most important first: the reverse of the draw order.
    entries = [(style, f"{style.key}: {counts.get(kind, 0)}") for kind, style in reversed(STYLES.items())]
    rows, row, used = [], [], margin
    for style, text in entries:
        need = sample_px + round(10 * scale) + round(probe.textlength(text, font=font)) + gap
        if row and used + need > width_px - margin:
            rows.append(row)
            row, used = [], margin
        row.append((style, text))
        used += need
    rows.append(row)
    title_lines = _wrap(title, bold, width_px - 2 * margin) if title else []
    height = margin + len(title_lines) * line_px + len(rows) * line_px + margin // 2
    strip = Image.new("RGB", (width_px, height), _KEY_BACKGROUND)
    draw = ImageDraw.Draw(strip)
    y = margin
    for line in title_lines:
        draw.text((margin, y), line, font=bold, fill=_TEXT)
        y += line_px
    for row in rows:
        x = margin
        for style, text in row:
            mid = y + line_px // 2 - round(2 * scale)
            # A sample edge in the frame's pattern on a chip of mid grey, as it would sit on a frame:
            # the faint kinds vanish against the key's white.
            draw.rectangle((x - round(3 * scale), mid - round(6 * scale), x + sample_px + round(3 * scale),
                            mid + round(6 * scale)), fill=_CHIP)
            _ink(draw, [((x, mid), (x + sample_px, mid))], style, scale)
            x += sample_px + round(10 * scale)
            draw.text((x, y + line_px // 2), text, font=font, fill=_TEXT, anchor="lm")
            x += round(draw.textlength(text, font=font)) + gap
        y += line_px
    return strip


def draw_detections(image: np.ndarray, boxes: pd.DataFrame, path: Path, title: str | None = None,
                    scale: float = 1.5) -> Path:
    """Draw one frame's evidence over ``image`` (RGB uint8, (height, width, 3)) and write it as a PNG
    at ``path``; returns ``path``.

    ``boxes``: this frame's rows of the evidence table. Columns ``kind`` ("detection",
    "ground_truth"; "frame" rows are skipped), ``x_px``, ``y_px``, ``w_px``, ``h_px`` (top-left corner
    and size), ``status`` (detection: "tp", "fp", "ignored"; ground truth: "matched", "missed",
    "ignore") and, for detections, ``score``. ``scale`` enlarges frame and drawing alike, so that
    small pedestrians and the score labels stay legible; the key under the frame counts each kind.
    """
    from PIL import Image, ImageDraw

    drawn = _check(image, boxes)
    frame = image.astype(np.float32)
    grey = frame @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    frame = (1 - _DESATURATE) * frame + _DESATURATE * (0.75 * grey + 0.25 * 200.0)[..., None]
    height_px, width_px = image.shape[:2]
    size = (round(width_px * scale), round(height_px * scale))
    canvas = Image.fromarray(np.clip(np.rint(frame), 0, 255).astype(np.uint8)).resize(
        size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(canvas)
    tag_font = _font(round(11 * scale))

    counts = drawn.groupby(["kind", "status"]).size().to_dict()
    for kind, style in STYLES.items():
        rows = drawn[(drawn["kind"] == kind[0]) & (drawn["status"] == kind[1])]
        for row in rows.itertuples(index=False):
            _draw_box(draw, (row.x_px, row.y_px, row.w_px, row.h_px), style, scale)
    # Tags go on last, so that no box line crosses their text.
    for kind, text_of in ((("detection", "fp"), lambda r: f"{r.score:.2f}"),
                          (("ground_truth", "missed"), lambda r: "missed")):
        rows = drawn[(drawn["kind"] == kind[0]) & (drawn["status"] == kind[1])]
        for row in rows.itertuples(index=False):
            offset = STYLES[kind].width_px * scale / 2
            _tag(draw, (row.x_px * scale - offset, row.y_px * scale - offset), text_of(row), STYLES[kind],
                 tag_font, size)

    key = _key(counts, size[0], scale, title)
    out = Image.new("RGB", (size[0], size[1] + key.height), _KEY_BACKGROUND)
    out.paste(canvas, (0, 0))
    out.paste(key, (0, size[1]))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # PIL writes no time or software chunk: the same input gives the same bytes.
    _palette(out).save(path, format="PNG", optimize=True)
    return path


def _palette(image):
    """``image`` with 256 colours: a quarter of the bytes of full colour, for a frame whose noise is
    what the PNG spends its bytes on. The drawing's own colours are reserved palette entries, so every
    line keeps its exact colour; the frame and the text's anti-aliasing share the rest."""
    from PIL import Image

    reserved = list(dict.fromkeys([s.colour for s in STYLES.values()] + [_HALO, _KEY_BACKGROUND, _TEXT, _CHIP]))
    shared = image.quantize(256 - len(reserved), method=Image.Quantize.FASTOCTREE)
    index = np.asarray(shared).copy()
    pixels = np.asarray(image)
    for i, colour in enumerate(reserved, start=256 - len(reserved)):
        index[(pixels == colour).all(axis=-1)] = i
    out = Image.fromarray(index)  # "L"; putpalette makes it "P"
    colours = shared.getpalette()[: 3 * (256 - len(reserved))]
    out.putpalette(colours + [0] * (3 * (256 - len(reserved)) - len(colours)) + [c for rgb in reserved for c in rgb])
    return out
