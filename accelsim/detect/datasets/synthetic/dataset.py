"""The public API: ``SyntheticScenes`` (the scenes as a Dataset of frames) and ``render_scene`` /
``scene_annotations`` (one scene from a seed). Each scene has two independent random streams, the
layout stream and the pixel stream (see the package's docstring)."""

from __future__ import annotations

import functools

import numpy as np

from accelsim.detect.datasets.synthetic.annotations import annotate
from accelsim.detect.datasets.synthetic.layout import sample_layout
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
        return Frame(frame_id=f"{self.split}/{i:06d}", width=WIDTH, height=HEIGHT, objects=annotate(layout),
                     load=functools.partial(_load_pixels, layout, entropy))

    def __repr__(self) -> str:
        return f"SyntheticScenes(seed={self.seed}, split={self.split!r}, frames={self.frames})"
