"""Pixels and proposals of frames are computed once and shared across processes by content
(`accelsim.detect.frame_cache`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from accelsim.cache import Cache
from accelsim.detect import frame_cache
from accelsim.detect.datasets.synthetic import SyntheticScenes
from accelsim.detect.datasets.synthetic import dataset as synthetic_dataset
from accelsim.detect.frame_cache import PIXELS_KIND, PROPOSALS_KIND, FrameInputs, clear_memory
from accelsim.detect.proposals import ProposalModel
from accelsim.detect.types import Annotation, Frame
from accelsim.model import get_model

ROOT = Path(__file__).resolve().parents[1]
SCENES = SyntheticScenes(seed=0, split="test", frames=3)


@pytest.fixture
def proposals() -> ProposalModel:
    return ProposalModel.load(get_model("deepped-small").detector_dir / "proposals.npz")


@pytest.fixture
def counted(monkeypatch):
    """Counts calls of the proposal stage and of the scene renderer; starts with empty memory, as a
    fresh process does, and leaves it empty."""
    calls = {"propose": 0, "render": 0}
    propose, render = ProposalModel.propose, synthetic_dataset.render

    def counting_propose(self, image):
        calls["propose"] += 1
        return propose(self, image)

    def counting_render(*args):
        calls["render"] += 1
        return render(*args)

    monkeypatch.setattr(ProposalModel, "propose", counting_propose)
    monkeypatch.setattr(synthetic_dataset, "render", counting_render)
    clear_memory()
    yield calls
    clear_memory()


def _entries(cache: Cache, kind: str) -> list[Path]:
    return sorted((cache.root / kind).glob("*.entry"))


def test_a_fresh_process_reads_the_proposals_and_pixels(tmp_path, proposals, counted):
    cache = Cache(tmp_path / "cache")
    first = [FrameInputs(proposals, SCENES.name, cache, keep_pixels=True)(SCENES[i]) for i in range(2)]
    assert counted == {"propose": 2, "render": 2}
    assert len(_entries(cache, PROPOSALS_KIND)) == 2 and len(_entries(cache, PIXELS_KIND)) == 2

    clear_memory()  # what a new process starts with
    again = [FrameInputs(proposals, SCENES.name, cache, keep_pixels=True)(SCENES[i]) for i in range(2)]
    assert counted == {"propose": 2, "render": 2}
    for (pixels, boxes), (pixels_again, boxes_again) in zip(first, again):
        assert np.array_equal(pixels, pixels_again) and np.array_equal(boxes, boxes_again)
        assert boxes.dtype == boxes_again.dtype == np.float64


def test_a_single_evaluation_keeps_no_pixels(tmp_path, proposals, counted):
    cache = Cache(tmp_path / "cache")
    FrameInputs(proposals, SCENES.name, cache)(SCENES[0])
    clear_memory()
    FrameInputs(proposals, SCENES.name, cache)(SCENES[0])
    assert counted == {"propose": 1, "render": 2}  # proposals read back, pixels rendered again
    assert cache.kinds() == [PROPOSALS_KIND]


def test_a_longer_evaluation_reuses_the_frames_of_a_shorter_one(tmp_path, proposals, counted):
    cache = Cache(tmp_path / "cache")
    inputs = FrameInputs(proposals, SCENES.name, cache)
    inputs(SCENES[0])
    clear_memory()
    inputs = FrameInputs(proposals, SCENES.name, cache)
    for i in range(2):
        inputs(SCENES[i])
    assert counted["propose"] == 2  # frame 0 once, frame 1 once


def test_another_proposal_model_proposes_again(tmp_path, proposals, counted):
    cache = Cache(tmp_path / "cache")
    FrameInputs(proposals, SCENES.name, cache)(SCENES[0])
    fewer = ProposalModel(proposals.weights, proposals.bias, proposals.threshold, proposals.max_proposals // 2,
                          proposals.nms_overlap, proposals.geometry, proposals.rescorer, proposals.prefilter)
    _, boxes = FrameInputs(fewer, SCENES.name, cache)(SCENES[0])
    assert len(boxes) <= fewer.max_proposals
    assert counted == {"propose": 2, "render": 1}  # the pixels are the same frame's
    assert len(_entries(cache, PROPOSALS_KIND)) == 2


def test_a_damaged_proposals_entry_is_recomputed(tmp_path, proposals, counted):
    warnings: list[str] = []
    cache = Cache(tmp_path / "cache", warn=warnings.append)
    _, boxes = FrameInputs(proposals, SCENES.name, cache)(SCENES[0])
    [entry] = _entries(cache, PROPOSALS_KIND)
    data = bytearray(entry.read_bytes())
    data[-3] ^= 0xFF  # inside the payload
    entry.write_bytes(bytes(data))

    clear_memory()
    _, again = FrameInputs(proposals, SCENES.name, cache)(SCENES[0])
    assert counted["propose"] == 2 and np.array_equal(boxes, again)
    assert len(warnings) == 1 and "damaged (payload checksum mismatch)" in warnings[0]
    clear_memory()
    FrameInputs(proposals, SCENES.name, cache)(SCENES[0])
    assert counted["propose"] == 2  # the recomputed entry was written back


def test_frames_built_in_memory_stay_in_this_process(tmp_path, proposals, counted):
    """Neither read from files nor generated: nothing vouches for their content across processes."""
    image = np.full((480, 640, 3), 128, dtype=np.uint8)
    frame = Frame("f0", 640, 480, (Annotation((300.0, 100.0, 41.0, 100.0)),), lambda: image)
    cache = Cache(tmp_path / "cache")
    inputs = FrameInputs(proposals, "stand-in", cache)
    inputs(frame)
    inputs(frame)
    assert counted["propose"] == 1 and cache.kinds() == []


def test_frames_from_files_key_on_the_files_content(tmp_path, proposals, counted):
    source = tmp_path / "frame.raw"
    source.write_bytes(b"first")
    pixels = SCENES[0].image()
    frame = Frame("f0", 640, 480, (), lambda: pixels, sources=(source,))
    cache = Cache(tmp_path / "cache")
    FrameInputs(proposals, "files", cache)(frame)
    clear_memory()
    FrameInputs(proposals, "files", cache)(frame)
    assert counted["propose"] == 1
    source.write_bytes(b"second")  # the same path, other content: a new key
    clear_memory()
    FrameInputs(proposals, "files", cache)(frame)
    assert counted["propose"] == 2
    assert len(_entries(cache, PROPOSALS_KIND)) == 2 and cache.kinds() == [PROPOSALS_KIND]  # no pixels of files


def test_memory_stays_within_its_budget():
    memory = frame_cache._Memory(budget_bytes=3000)
    for i in range(10):
        memory.put(i, np.zeros(1000, dtype=np.uint8))
    assert memory.get(0) is None and memory.get(9) is not None
    assert sum(memory.get(i) is not None for i in range(10)) == 3


def test_another_process_reads_what_this_one_wrote(tmp_path, proposals):
    clear_memory()
    cache_dir = tmp_path / "cache"
    _, boxes = FrameInputs(proposals, SCENES.name, Cache(cache_dir))(SCENES[1])
    clear_memory()
    script = textwrap.dedent("""
        import json
        from accelsim.cache import Cache
        from accelsim.detect.datasets.synthetic import SyntheticScenes
        from accelsim.detect.frame_cache import FrameInputs
        from accelsim.detect.proposals import ProposalModel
        from accelsim.model import get_model

        calls = []
        propose = ProposalModel.propose
        ProposalModel.propose = lambda self, image: calls.append(1) or propose(self, image)
        model = ProposalModel.load(get_model("deepped-small").detector_dir / "proposals.npz")
        scenes = SyntheticScenes(seed=0, split="test", frames=3)
        _, boxes = FrameInputs(model, scenes.name, Cache(CACHE_DIR))(scenes[1])
        print(json.dumps({"proposed": len(calls), "boxes": boxes.tolist()}))
    """).replace("CACHE_DIR", repr(str(cache_dir)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["proposed"] == 0 and np.array_equal(np.array(found["boxes"]), boxes)
