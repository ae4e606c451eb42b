"""The conditions of the generated scenes: how each frame is tagged, and the datasets restricted to
conditions (``synthetic:SEED:KEY=VALUE,...``)."""

from __future__ import annotations

import dataclasses
import pickle
from collections import Counter
from functools import cache

import numpy as np
import pytest
from click.testing import CliRunner

from accelsim.cli import main
from accelsim.detect.datasets import SPEC_HELP, first_frames, open_dataset
from accelsim.detect.datasets.synthetic import CONDITIONS, SyntheticScenes, SyntheticSubset
from accelsim.detect.datasets.synthetic.conditions import conditions_of
from accelsim.detect.datasets.synthetic.dataset import scene_streams
from accelsim.detect.datasets.synthetic.layout import sample_layout
from accelsim.errors import DatasetError


@cache
def tags(n: int = 500) -> list[dict[str, str]]:
    scenes = SyntheticScenes(seed=0, split="test", frames=n)
    return [dict(scenes.conditions(i)) for i in range(n)]


def scene(**changes):
    """A real scene (test frame 0's) with some of its light and sensor replaced."""
    sc = sample_layout(scene_streams(SyntheticScenes().seed_sequence(0))[0]).scene
    neutral = dict(gain=np.ones(3, np.float32), contrast=1.0, sunny=False, haze_m=300.0, blur=0.1, blur_passes=1,
                   noise=2.0, jpeg=0)
    return dataclasses.replace(sc, **{**neutral, **changes})


# --- tags ------------------------------------------------------------------------------------------


def test_every_frame_has_one_value_of_every_condition_in_order():
    frame = SyntheticScenes(seed=2, split="val")[3]
    assert [name for name, _ in frame.conditions] == list(CONDITIONS)
    assert all(value in CONDITIONS[name] for name, value in frame.conditions)


def test_tags_are_deterministic_and_survive_pickling():
    a, b = SyntheticScenes(seed=3, split="train")[11], SyntheticScenes(seed=3, split="train")[11]
    assert a.conditions == b.conditions
    assert pickle.loads(pickle.dumps(a)).conditions == a.conditions
    hash(a)  # frames stay hashable


def test_frame_tags_equal_the_cheap_scan_of_the_first_draws():
    scenes = SyntheticScenes(seed=1, split="test")
    for i in range(60):
        frame = scenes[i]
        assert frame.conditions == scenes.conditions(i), frame.frame_id


@pytest.mark.parametrize("changes, expected", [
    ({}, ("overcast", "clear", "sharp", "clean")),
    ({"sunny": True}, ("sun", "clear", "sharp", "clean")),
    # exposure is mean gain x contrast: 0.8 x 0.74 = 0.592 is dim, in sun or not
    ({"sunny": True, "gain": np.full(3, 0.8, np.float32), "contrast": 0.74}, ("dim", "clear", "sharp", "clean")),
    ({"gain": np.array((0.7, 0.8, 0.9), np.float32), "contrast": 0.76}, ("overcast", "clear", "sharp", "clean")),
    ({"haze_m": 199.0}, ("overcast", "hazy", "sharp", "clean")),
    ({"haze_m": 200.0}, ("overcast", "clear", "sharp", "clean")),
    # blur variance 2 x weight x passes: 0.46 one pass, 0.48 two passes; 0.44 is sharp
    ({"blur": 0.23}, ("overcast", "clear", "blurred", "clean")),
    ({"blur": 0.12, "blur_passes": 2}, ("overcast", "clear", "blurred", "clean")),
    ({"blur": 0.22}, ("overcast", "clear", "sharp", "clean")),
    ({"noise": 5.5}, ("overcast", "clear", "sharp", "noisy")),
    ({"noise": 5.4, "jpeg": 70}, ("overcast", "clear", "sharp", "noisy")),
    ({"noise": 5.4, "jpeg": 71}, ("overcast", "clear", "sharp", "clean")),
])
def test_light_haze_blur_and_noise_are_read_from_the_scene(changes, expected):
    tagged = dict(conditions_of(scene(**changes), pedestrians=1))
    assert (tagged["lighting"], tagged["haze"], tagged["blur"], tagged["noise"]) == expected


@pytest.mark.parametrize("pedestrians, crowding", [(0, "empty"), (1, "sparse"), (2, "sparse"), (3, "crowded"),
                                                   (6, "crowded")])
def test_crowding_counts_the_pedestrians(pedestrians, crowding):
    assert dict(conditions_of(scene(), pedestrians))["crowding"] == crowding


def test_crowding_counts_every_pedestrian_placed_annotated_or_not():
    scenes = SyntheticScenes(seed=0, split="test")
    for i in range(40):
        layout = sample_layout(scene_streams(scenes.seed_sequence(i))[0])
        n = sum(item.kind == "person" for item in layout.items)
        assert scenes[i].conditions == conditions_of(layout.scene, n)
        assert len(layout.groups) <= n


def test_every_value_occurs_in_at_least_a_tenth_of_the_frames():
    counts = {name: Counter(t[name] for t in tags()) for name in CONDITIONS}
    for name, values in CONDITIONS.items():
        for value in values:
            assert counts[name][value] >= len(tags()) / 10, (name, value, counts[name])


# --- restricted datasets ---------------------------------------------------------------------------


def test_a_restriction_holds_exactly_the_matching_frames_in_index_order():
    subset = SyntheticScenes(seed=0, split="test", frames=300).where(lighting="dim", crowding="crowded")
    expected = [i for i, t in enumerate(tags()[:300]) if t["lighting"] == "dim" and t["crowding"] == "crowded"]
    assert 10 <= len(subset) == len(expected) < 300
    assert [subset[k].frame_id for k in range(len(subset))] == [f"test/{i:06d}" for i in expected]
    assert subset[-1].frame_id == f"test/{expected[-1]:06d}"
    with pytest.raises(IndexError, match="outside"):
        subset[len(expected)]


def test_restricted_frames_are_the_unrestricted_frames():
    full, subset = open_dataset("synthetic:0"), open_dataset("synthetic:0:haze=hazy,noise=noisy")
    for k in range(4):
        frame = subset[k]
        same = full[int(frame.frame_id.split("/")[1])]
        assert (frame.frame_id, frame.objects, frame.conditions) == (same.frame_id, same.objects, same.conditions)
        assert {("haze", "hazy"), ("noise", "noisy")} <= set(frame.conditions)
    assert np.array_equal(subset[0].image(), full[int(subset[0].frame_id.split("/")[1])].image())


def test_a_restriction_is_named_in_canonical_order_and_finds_frames_lazily():
    a = open_dataset("synthetic:3:haze=hazy,lighting=dim")
    b = open_dataset("synthetic:3:lighting=dim,haze=hazy")
    assert isinstance(a, SyntheticSubset)
    assert a.name == b.name == "synthetic(seed=3, split=test, lighting=dim, haze=hazy)"
    assert [f.frame_id for f in first_frames(a, 5)] == [f.frame_id for f in first_frames(b, 5)]
    assert a._scanned < 100, "five frames must not scan the whole split"
    assert open_dataset("synthetic:blur=blurred").name == "synthetic(seed=0, split=test, blur=blurred)"


def test_a_subset_pickles_and_too_many_frames_are_refused():
    subset = SyntheticScenes(seed=0, split="test", frames=50).where(crowding="empty")
    again = pickle.loads(pickle.dumps(subset))
    assert [again[k].frame_id for k in range(len(again))] == [subset[k].frame_id for k in range(len(subset))]
    with pytest.raises(DatasetError, match=rf"has {len(subset)} frames; --frames 50 asks for more"):
        first_frames(subset, 50)


def test_a_subset_needs_a_condition():
    with pytest.raises(DatasetError, match="needs at least one condition of lighting=sun"):
        SyntheticScenes().where()


@pytest.mark.parametrize("spec", ["synthetic", "synthetic:", "synthetic:0", "synthetic:4"])
def test_existing_specs_are_unchanged(spec):
    dataset = open_dataset(spec)
    seed = int(spec.partition(":")[2] or 0)
    assert isinstance(dataset, SyntheticScenes) and len(dataset) == 10_000
    assert dataset.name == f"synthetic(seed={seed}, split=test)"
    assert dataset[17].frame_id == "test/000017"


@pytest.mark.parametrize("spec, words", [
    ("synthetic:0:light=dim", ["'synthetic:0:light=dim'", "unknown condition 'light'", "lighting=sun|overcast|dim",
                               "crowding=empty|sparse|crowded"]),
    ("synthetic:0:lighting=dark", ["'synthetic:0:lighting=dark'", "lighting 'dark' is not one of sun, overcast, dim"]),
    ("synthetic:haze", ["'synthetic:haze'", "seed must be an integer"]),
    ("synthetic:0:haze", ["'haze' is not KEY=VALUE", "haze=clear|hazy"]),
    ("synthetic:0:", ["'' is not KEY=VALUE"]),
    ("synthetic:0:haze=hazy,haze=clear", ["condition 'haze' is given twice"]),
    ("synthetic:x:haze=hazy", ["seed must be an integer, got 'x'"]),
])
def test_bad_restrictions_give_one_clear_error(spec, words):
    with pytest.raises(DatasetError) as error:
        open_dataset(spec)
    for word in words:
        assert word in str(error.value)


def test_the_cli_refuses_a_bad_restriction_in_one_line():
    result = CliRunner().invoke(main, ["eval", "--dataset", "synthetic:0:lighting=night", "--frames", "2"])
    assert result.exit_code == 2
    assert "lighting 'night' is not one of sun, overcast, dim" in result.output
    assert "Traceback" not in result.output


def test_spec_help_shows_the_restriction():
    assert "synthetic[:SEED][:KEY=VALUE,...]" in SPEC_HELP
