"""The pipeline's cached stages (compression, accuracy) against damaged entries, replaced dataset files
and concurrent processes. The cache's own mechanics are tested in test_cache.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from accelsim.cache import Cache
from accelsim.compress import load_plan
from accelsim.detect.crops import CropSpec
from accelsim.detect.datasets.caltech import CaltechDataset
from accelsim.detect.detector import Combiner, Detector, DetectorConfig
from accelsim.detect.functional import FunctionalClassifier, NumberFormats
from accelsim.detect.proposals import Geometry, ProposalModel
from accelsim.detect.training_data import TrainSettings, crop_data
from accelsim.errors import DatasetError, ModelError
from accelsim.model import ModelEntry, get_model
from accelsim.model.alexnet import init_gaussian_
from accelsim.model.registry import small_classifier
from accelsim.pipeline import accuracy as accuracy_module
from accelsim.pipeline.accuracy import AccuracyRequest, accuracy_stage
from accelsim.pipeline.compression import CompressionRequest, compress_stage, weights_digest
from test_datasets_caltech import encode, write_seq, write_vbb
from test_detect_pipeline import Brightness, FixedProposals, _frames, _image_with_bright_box

ROOT = Path(__file__).resolve().parent.parent


class _Named(list):
    name = "stand-in scenes"


def _stand_in_entry(folder: Path) -> ModelEntry:
    """A catalogue entry whose detector folder holds a seeded proposal model (threshold -inf)."""
    folder.mkdir(parents=True, exist_ok=True)
    g = Geometry()
    weights = np.random.default_rng(0).normal(size=(10, *g.cells)).astype(np.float32)
    ProposalModel(weights, 0.0, threshold=-np.inf, max_proposals=8, geometry=g).save(folder / "proposals.npz")
    DetectorConfig(crop=CropSpec(size=67)).save(folder / "detector.json")
    return ModelEntry("stand-in", "", small_classifier, (3, 67, 67), detector=str(folder))


def _network():
    return init_gaussian_(small_classifier(), 0).eval()


def test_accuracy_is_cached_by_what_it_depends_on(tmp_path):
    entry = _stand_in_entry(tmp_path / "det")
    network = _network()
    cache = Cache(tmp_path / "cache")
    request = AccuracyRequest(NumberFormats.float32(), _Named(_frames(2)))
    first = accuracy_stage(entry, network, None, request, cache)
    again = accuracy_stage(entry, network, None, request, cache)
    assert (first.cached, again.cached) == (False, True)
    assert again.wall_s == 0.0 and first.wall_s > 0.0
    assert again.figures() == first.figures()
    assert again.accuracy.activation_density == first.accuracy.activation_density
    # other weights, other formats: other entries
    with torch.no_grad():
        network.fc8.bias.add_(1.0)
    assert not accuracy_stage(entry, network, None, request, cache).cached
    assert not accuracy_stage(entry, network, None, AccuracyRequest(NumberFormats(8, 8, 24), request.dataset),
                              cache).cached
    assert cache.info().kinds["accuracy"].entries == 3


def test_a_model_without_detector_is_refused():
    entry = ModelEntry("no-detector", "", small_classifier, (3, 67, 67))
    with pytest.raises(ModelError, match="no detector"):
        accuracy_stage(entry, _network(), None, AccuracyRequest(NumberFormats.float32(), _Named()))


# --- damaged entries --------------------------------------------------------------------------------

def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _flip_one_byte(data: bytes) -> bytes:
    i = len(data) * 3 // 4  # in the payload
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


def _empty(data: bytes) -> bytes:
    return b""


def _foreign_json(data: bytes) -> bytes:
    return json.dumps({"miss_rate_lamr": 0.0766, "proposals_per_frame": 1.0}).encode()


DAMAGE = {"truncated": _truncate, "one byte flipped": _flip_one_byte, "emptied": _empty,
          "foreign JSON": _foreign_json}


def _compress(cache: Cache):
    plan = load_plan("toy-aggressive")
    return compress_stage(CompressionRequest("toy-bars", plan, finetune_epochs=0), cache)


def _evaluate(cache: Cache, tmp_path: Path):
    request = AccuracyRequest(NumberFormats.float32(), _Named(_frames(2)))
    return accuracy_stage(_stand_in_entry(tmp_path / "det"), _network(), None, request, cache)


def _compressed_value(found):
    return weights_digest(found.network), found.storage.totals()


def _accuracy_value(found):
    return found.figures(), found.accuracy.activation_density


STAGES = {"compressed": (_compress, _compressed_value), "accuracy": (_evaluate, _accuracy_value)}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
@pytest.mark.parametrize("kind", STAGES)
def test_a_damaged_entry_is_reported_deleted_and_recomputed(tmp_path, kind, damage):
    run, value_of = STAGES[kind]
    warnings: list[str] = []
    cache = Cache(tmp_path / "cache", warn=warnings.append)
    stage = (lambda: run(cache)) if kind == "compressed" else (lambda: run(cache, tmp_path))
    first = stage()
    (entry,) = (tmp_path / "cache" / kind).glob("*.entry")
    entry.write_bytes(DAMAGE[damage](entry.read_bytes()))

    again = stage()
    assert not again.cached, "a damaged entry must never be used"
    assert value_of(again) == value_of(first)
    assert len(warnings) == 1 and str(entry) in warnings[0] and "damaged" in warnings[0]
    third = stage()  # the recomputed entry was written back, whole
    assert third.cached and value_of(third) == value_of(first) and len(warnings) == 1


def test_a_damaged_crop_set_is_reported_deleted_and_recut(tmp_path, monkeypatch, capfd):
    """The third kind of entry: the fine-tuning crops of the shipped detector (a small set here)."""
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path / "cache"))
    proposals = get_model("deepped-small").detector_dir / "proposals.npz"
    settings = TrainSettings(train_frames=2, val_frames=1)

    def crops():
        train, val = crop_data(proposals, 0, settings)
        return train.crops.clone(), train.labels.clone(), val.crops.clone()

    first = crops()
    (entry,) = (tmp_path / "cache" / "crops").glob("*.entry")
    for damage in DAMAGE.values():
        entry.write_bytes(damage(entry.read_bytes()))
        capfd.readouterr()
        again = crops()
        warned = [line for line in capfd.readouterr().err.splitlines() if "damaged" in line]
        assert len(warned) == 1 and str(entry) in warned[0]
        assert all(torch.equal(a, b) for a, b in zip(again, first))


# --- dataset content ---------------------------------------------------------------------------------

def _caltech_root(root: Path, person_box: list[float]) -> Path:
    """One test-split video of 30 frames (the 29th is evaluated) of a bright box on black, 640x480, with
    one pedestrian annotated at ``person_box``."""
    (root / "set06").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "set06").mkdir(parents=True, exist_ok=True)
    image = _image_with_bright_box()
    write_seq(root / "set06" / "V000.seq", [image] * 30, encoded=[encode(image)] * 30)
    write_annotation(root, person_box)
    return root


def write_annotation(root: Path, person_box: list[float]) -> None:
    write_vbb(root / "annotations" / "set06" / "V000.vbb", 30, ["person"], {29: [(1, person_box, 0, [0, 0, 0, 0])]})


@pytest.fixture
def bright_box_detector(monkeypatch):
    """The detector of test_detect_pipeline: fixed proposals, bright crops are pedestrians."""
    boxes = [[300, 100, 41, 100, 2.0], [50, 300, 41, 100, 3.0]]
    config = DetectorConfig(crop=CropSpec(size=32, context=1.0), combiner=Combiner(0.0, 1.0, 0.0), nms_overlap=0.3)

    def stand_in(network, detector_dir, formats, compressed=None):
        classifier = FunctionalClassifier(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 2)),
                                          formats)
        return Detector(FixedProposals(boxes), config, Brightness()), classifier

    monkeypatch.setattr(accuracy_module, "functional_detector", stand_in)


def test_replacing_an_annotation_file_at_the_same_path_changes_the_miss_rate(tmp_path, bright_box_detector):
    root = _caltech_root(tmp_path / "caltech", [300, 100, 41, 100])  # on the bright box: found
    entry = _stand_in_entry(tmp_path / "det")
    cache = Cache(tmp_path / "cache")

    def miss_rate():
        request = AccuracyRequest(NumberFormats.float32(), CaltechDataset(root))
        return accuracy_stage(entry, _network(), None, request, cache)

    found = miss_rate()
    assert found.accuracy.miss_rate_lamr < 1e-6 and miss_rate().cached
    write_annotation(root, [400, 300, 41, 100])  # the same path, the person now in the dark: missed
    moved = miss_rate()
    assert not moved.cached and moved.accuracy.miss_rate_lamr == pytest.approx(1.0)
    write_annotation(root, [400, 300, 41, 30])  # too small for 'reasonable': no positives left
    with pytest.raises(DatasetError, match="evaluate more frames"):
        miss_rate()


# --- concurrency -------------------------------------------------------------------------------------

def test_three_processes_computing_the_same_entry_agree_and_compress_once(tmp_path):
    script = textwrap.dedent("""
        import json
        from accelsim.compress import load_plan
        from accelsim.pipeline.compression import CompressionRequest, compress_stage, weights_digest

        found = compress_stage(CompressionRequest("toy-bars", load_plan("toy-aggressive")))
        print(json.dumps({"cached": found.cached, "weights": weights_digest(found.network),
                          "bytes": found.storage.totals()["compressed_bytes"]}))
    """)
    env = {**os.environ, "ACCELSIM_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert sorted(r["cached"] for r in results) == [False, True, True]  # one compressed, two waited and read
    assert len({(r["weights"], r["bytes"]) for r in results}) == 1
