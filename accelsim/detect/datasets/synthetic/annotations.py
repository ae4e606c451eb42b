"""Annotations from a layout alone, without its pixels: boxes and labels from the layout, and the
visible fraction of each annotated figure from its silhouette, as the renderer will paint it.

Annotations
-----------
- ``box``: ``(x, y, w, h)`` with ``h`` from the top of the head to the soles (the figure's real
  extent in its pose) and ``w = 0.41 h`` centred on the body axis, as Caltech annotators draw
  them. Arms, legs and bags stay inside the box (a wide pose is narrowed to fit). Boxes of
  people near an image border may extend past it (their centre is always inside the frame);
  ``box`` is the full extent, not the part in the frame.
- ``visible``: the fraction of the figure's *silhouette pixels* that are seen in the frame: not
  painted over by a nearer object (car, street furniture, another pedestrian) and not outside the
  image. It is counted on the very rasters that the renderer paints, so it is exact.
- ``label``: ``person`` for most; ``person?`` for some small (< 45 px) or ambiguous, low-contrast
  figures; ``people`` for some tight groups of 2-3 overlapping people annotated as one box (the
  union of their boxes; ``visible`` over the group's silhouettes). ``ignore`` is not produced.
  A figure hidden entirely (behind a car or a tree trunk, say) is in the scene but not annotated."""

from __future__ import annotations

import numpy as np

from accelsim.detect.datasets.synthetic.raster import paste_region, rasterise
from accelsim.detect.datasets.synthetic.scene import HEIGHT, WIDTH, Layout
from accelsim.detect.types import Annotation


def annotate(layout: Layout, keep_hidden: bool = False) -> tuple[Annotation, ...]:
    """Boxes and labels from the layout; ``visible`` by painting every silhouette's id in depth
    order into a label image and counting what is left of each annotated figure. Figures of which
    no pixel is seen are not annotated (unless ``keep_hidden``: then one per group, in order)."""
    annotated = {m for g in layout.groups for m in g.members}
    labels = np.zeros((HEIGHT, WIDTH), np.int16)
    area, region = {}, {}
    first = min(annotated) if annotated else len(layout.items)
    for k in range(first, len(layout.items)):  # items behind every annotated figure hide none of them
        x0, y0, pm = rasterise(layout.items[k].prims, clip=k not in annotated)
        mask = pm > 0
        reg = paste_region(x0, y0, *pm.shape)
        if k in annotated:
            area[k], region[k] = int(np.count_nonzero(mask)), reg
        if reg is not None:
            fr, cr = reg
            labels[fr][mask[cr]] = k + 1
    seen = {k: (int(np.count_nonzero(labels[region[k][0]] == k + 1)) if region[k] else 0) for k in annotated}
    out = []
    for g in layout.groups:
        total = sum(area[m] for m in g.members)
        vis = sum(seen[m] for m in g.members)
        if vis == 0 and not keep_hidden:
            continue
        x, y, w, h = g.box
        out.append(Annotation(box=(float(x), float(y), float(w), float(h)), label=g.label,
                              visible=float(vis / total) if total else 0.0))
    return tuple(out)
