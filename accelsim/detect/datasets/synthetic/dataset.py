"""The public API: ``SyntheticScenes`` (the scenes as a Dataset of frames), ``SyntheticSubset`` (those
of its frames that meet some conditions) and ``render_scene`` / ``scene_annotations`` (one scene from
a seed). Each scene has two independent random streams, the layout stream and the pixel stream (see
the package's docstring)."""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np

from accelsim.detect.datasets.synthetic.annotations import annotate
from accelsim.detect.datasets.synthetic.conditions import check_conditions, conditions_of, describe_conditions
from accelsim.detect.datasets.synthetic.layout import sample_layout, sample_scene_and_pedestrians
from accelsim.detect.datasets.synthetic.rendering import render
from accelsim.detect.datasets.synthetic.scene import HEIGHT, WIDTH, Layout
from accelsim.detect.types import Annotation, Frame
from accelsim.errors import DatasetError

SPLIT_CODES = {"train": 1, "val": 2, "test": 3}


def scene_streams(source) -> tuple[np.random.Generator, np.random.Generator]:
    """The layout and pixel streams of a scene. For a SeedSequence they are its children 0 and 1,
    made without ``spawn`` (which counts calls), so the same sequence always gives the same scene."""
    if isinstance(source, np.random.Generator):
        a, b = source.spawn(2)
        return a, b
    if not isinstance(source, np.random.SeedSequence):
        source = np.random.SeedSequence(source)
    a, b = (np.random.SeedSequence(source.entropy, spawn_key=(*source.spawn_key, k),
                                   pool_size=source.pool_size) for k in (0, 1))
    return np.random.default_rng(a), np.random.default_rng(b)


def render_scene(source) -> tuple[np.ndarray, tuple[Annotation, ...]]:
    """One scene from a SeedSequence (or Generator, or seed entropy): ``(image, annotations)``;
    the image is RGB uint8 of shape (480, 640, 3)."""
    layout_rng, pixel_rng = scene_streams(source)
    layout = sample_layout(layout_rng)
    return render(layout, pixel_rng), annotate(layout)


def scene_annotations(source) -> tuple[Annotation, ...]:
    """The annotations of ``render_scene(source)`` without rendering its pixels."""
    layout_rng, _ = scene_streams(source)
    return annotate(sample_layout(layout_rng))


def _load_pixels(layout: Layout, entropy: list) -> np.ndarray:
    """The pixels of a frame whose layout is known (a module-level function: frames pickle)."""
    return render(layout, scene_streams(np.random.SeedSequence(entropy))[1])


class SyntheticScenes:
    """The procedural pedestrian scenes as a Dataset: ``frames`` frames of split ``split``.

    Frame ``i`` is drawn from ``SeedSequence([seed, SPLIT_CODES[split], i])`` alone, so it does not
    depend on which other frames were made, or in which order; its annotations are computed when
    the frame is made, its pixels when ``Frame.image()`` is called."""

    def __init__(self, seed: int = 0, split: str = "test", frames: int = 500):
        if split not in SPLIT_CODES:
            raise DatasetError(f"synthetic dataset: split '{split}' is not one of {tuple(SPLIT_CODES)}")
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise DatasetError(f"synthetic dataset: the seed must be a non-negative integer, got {seed!r}")
        if frames < 0:
            raise DatasetError(f"synthetic dataset: frames must be >= 0, got {frames}")
        self.seed, self.split, self.frames = int(seed), split, int(frames)
        self.name = f"synthetic(seed={self.seed}, split={split})"

    def __len__(self) -> int:
        return self.frames

    def seed_sequence(self, index: int) -> np.random.SeedSequence:
        return np.random.SeedSequence([self.seed, SPLIT_CODES[self.split], index])

    def conditions(self, index: int) -> tuple[tuple[str, str], ...]:
        """``self[index].conditions``, from the first draws of the frame's layout stream alone."""
        scene, pedestrians = sample_scene_and_pedestrians(scene_streams(self.seed_sequence(index))[0])
        return conditions_of(scene, pedestrians)

    def where(self, **conditions: str) -> SyntheticSubset:
        """The frames that meet every condition, e.g. ``where(lighting="dim", haze="hazy")``."""
        return SyntheticSubset(self, conditions)

    def __getitem__(self, index: int) -> Frame:
        if isinstance(index, slice):
            raise TypeError("SyntheticScenes does not take slices; index frames one by one")
        i = int(index)
        if i < 0:
            i += self.frames
        if not 0 <= i < self.frames:
            raise IndexError(f"frame {index} is outside {self.name}, which has {self.frames} frames")
        entropy = [self.seed, SPLIT_CODES[self.split], i]
        layout = sample_layout(scene_streams(np.random.SeedSequence(entropy))[0])
        pedestrians = sum(item.kind == "person" for item in layout.items)
        return Frame(frame_id=f"{self.split}/{i:06d}", width=WIDTH, height=HEIGHT, objects=annotate(layout),
                     load=functools.partial(_load_pixels, layout, entropy),
                     conditions=conditions_of(layout.scene, pedestrians))

    def __repr__(self) -> str:
        return f"SyntheticScenes(seed={self.seed}, split={self.split!r}, frames={self.frames})"


class SyntheticSubset:
    """The frames of ``scenes`` that meet every condition of ``where`` (``conditions.CONDITIONS``), in
    index order and with their own frame ids: item ``k`` is the ``k``-th such frame of ``scenes``.

    Frames are found by their conditions alone (``SyntheticScenes.conditions``, a fraction of a
    millisecond each), only as far as an index asks; ``len`` scans all of ``scenes`` once."""

    def __init__(self, scenes: SyntheticScenes, where: Mapping[str, str]):
        self.scenes = scenes
        self.where = check_conditions(where, scenes.name)
        if not self.where:
            raise DatasetError(f"{scenes.name}: a subset needs at least one condition of {describe_conditions()}")
        restriction = ", ".join(f"{name}={value}" for name, value in self.where.items())
        self.name = f"synthetic(seed={scenes.seed}, split={scenes.split}, {restriction})"
        self._matches: list[int] = []  # indices into scenes of the matching frames found so far
        self._scanned = 0  # frames of scenes scanned so far

    def _scan(self, wanted: int | None) -> None:
        """Scan on until ``wanted`` matching frames are known, or all of them when None."""
        where = set(self.where.items())
        while (wanted is None or len(self._matches) < wanted) and self._scanned < len(self.scenes):
            if where <= set(self.scenes.conditions(self._scanned)):
                self._matches.append(self._scanned)
            self._scanned += 1

    def __len__(self) -> int:
        self._scan(None)
        return len(self._matches)

    def __getitem__(self, index: int) -> Frame:
        if isinstance(index, slice):
            raise TypeError("SyntheticSubset does not take slices; index frames one by one")
        i = int(index)
        if i < 0:
            i += len(self)
        if i >= 0:
            self._scan(i + 1)
        if not 0 <= i < len(self._matches):
            raise IndexError(f"frame {index} is outside {self.name}, which has {len(self)} frames")
        return self.scenes[self._matches[i]]

    def __repr__(self) -> str:
        return f"SyntheticSubset({self.scenes!r}, where={self.where!r})"
