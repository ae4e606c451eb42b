"""Pinned output of the procedural scene generator: the sha256 of the rendered pixels and of the
annotations of a spread of frames, computed once by the generator as it was when this test was
written. Any change to the random draws, their order or the float arithmetic changes a hash, so a
refactoring that must keep every frame bit-identical keeps this test green.

The frames were chosen to exercise every path: cars (parked, passing, occluding), groups annotated
as ``people`` (of 2 and of 3), ``person?`` figures, mannequins in shop windows and outdoors,
occlusion and hidden figures, shade on either side, overcast and sunny light, one and two blur
passes, JPEG, zebra crossings, striped clothes; and ``render_scene`` / ``scene_annotations`` on a
SeedSequence, an integer and a Generator.

If the generator is changed on purpose, recompute the hashes with ``_pins()`` below (the frames
change, and so do the crops cached by training: see ``accelsim.detect.training._code_hash``)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from accelsim.detect.datasets.synthetic import SyntheticScenes, render_scene, scene_annotations


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _annotations_digest(objects) -> str:
    """Boxes, labels and visible fractions; ``repr`` of a float round-trips exactly."""
    return _sha(repr([(tuple(o.box), o.label, o.visible) for o in objects]).encode())


def _image_digest(img: np.ndarray) -> str:
    assert img.shape == (480, 640, 3) and img.dtype == np.uint8
    return _sha(np.ascontiguousarray(img).tobytes())


# (seed, split, frame indices)
FRAMES = [
    # 13, 38: groups of 3; 31, 102: a hidden figure; 39: a pedestrian in front of another;
    # 79: no room to park at a narrow kerb; 233: a group member too small at its own depth
    (0, "test", list(range(12)) + [13, 31, 38, 39, 79, 102, 233]),
    (0, "train", [0, 1, 2, 3]),  # 0: shade on the left, 1: shade on the right
    (0, "val", [0, 1, 2, 3]),
    (7, "test", [0, 1, 2, 3]),
]
SOURCES = {
    "seedsequence-123": lambda: np.random.SeedSequence(123),
    "int-2031": lambda: 2031,
    "generator-5": lambda: np.random.default_rng(5),
}


def _frame_cases():
    return [(seed, split, i) for seed, split, idx in FRAMES for i in idx]


def _frame_pin(seed, split, i) -> tuple[str, str]:
    frame = SyntheticScenes(seed=seed, split=split)[i]
    return _image_digest(frame.image()), _annotations_digest(frame.objects)


def _source_pin(name) -> tuple[str, str]:
    img, objects = render_scene(SOURCES[name]())
    assert scene_annotations(SOURCES[name]()) == objects, "scene_annotations differs from render_scene"
    return _image_digest(img), _annotations_digest(objects)


def _pins() -> None:
    """Print the pins of the current generator, to regenerate the tables below
    (``python -c "import tests.test_synthetic_pinned as t; t._pins()"``)."""
    pins = [(c, _frame_pin(*c)) for c in _frame_cases()] + [(n, _source_pin(n)) for n in SOURCES]
    for key, (image, objects) in pins:
        print(f'    {key!r}: (\n        "{image}",\n        "{objects}",\n    ),'.replace("'", '"'))


FRAME_PINS = {
    (0, "test", 0): (
        "1e012b43ca3908527664b9b40776965a53c5ac44fa6967799625fbacc4d64550",
        "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
    ),
    (0, "test", 1): (
        "080f290bfa5b6be4a2518bc6a40104ecda84504ca13a375ba924ee12dfd83d3f",
        "b5f14592a362868f1a39e28665e27c4bd2d9e0fef22b3260e57252442d3bea30",
    ),
    (0, "test", 2): (
        "9d572bccf53d5992918f7bbb66be92b4333484289b1272ceaf3ea0a921fddc6e",
        "a941b42d45943c13b7224acbae7821a12849069abfcfe048c30f8c280e500b1f",
    ),
    (0, "test", 3): (
        "7676155f514785b9a6059a459ed0dbbfdfe6fc9be29d529b7e2e1d1a31d01fdd",
        "b104e8e4c91ea0d5b3efbf0bd9d988ce8cfe11427afdd186c1159fb19f986c92",
    ),
    (0, "test", 4): (
        "1ff389ba3f61146841629dee14267ff7e7344d73898980de24c484a7139ccbc4",
        "5ccb94725d943fca861cdd935733fc339e4da128baac60bd6b87d58876caece4",
    ),
    (0, "test", 5): (
        "667ec7eec24f2750bdc9086c1059b3b404cedd2345571405971371c6199369e1",
        "77959a015353518ad100b68a275321454469debcd68f1363642d2451a54b6a54",
    ),
    (0, "test", 6): (
        "d68111e204a85f004e8ec44e441b3170c3c4dcd39efa285ad2db248fa8da8553",
        "f518b84990a72fbb0df017a8eaf1ade3b860ebb095d3ac3c85e260d94fe878c3",
    ),
    (0, "test", 7): (
        "0002eb1d0c4e0f9af930f483c7887d7c20101552e49be2ac469f18f22f470c88",
        "5ae2e7f13c005caa2638f7b155202f86d6a6d33a37bc784a5b36bba0e9ade124",
    ),
    (0, "test", 8): (
        "d80ab9af6fec4676897dc211dd81db1d1b695e37c720f1b54a1a515aa81035f4",
        "00b774517ea0071a5febc61de123c5c630a5b888b5ecdc336ec23e2039f589df",
    ),
    (0, "test", 9): (
        "1a02d4e151e6596ae6584a94b59d1f3f81e54b08904a799ccfc9278d05463ed1",
        "b31c714a7b49e84052a1a7a0ca1e18cf6447df20ee5e5e3bd786555f5431ad2f",
    ),
    (0, "test", 10): (
        "61ce35ee548a6456f9977467a90b5ed7230acdd950c2fa15160f91a0423e40dd",
        "1b29d6e31046f4e9e0ca0a82abc2f14a0f59b61d60c198047694372bdfd1377c",
    ),
    (0, "test", 11): (
        "6b23e3f82f72fd8c3194b0d3e83d2a5c034e0c8f306d307beb979474364d8cb2",
        "5bc07300b2f450a02520b38c00c99c7f60a75f77d55a191ba307fecd1ec4514b",
    ),
    (0, "test", 13): (
        "d0df4897138085186f5a6e8460bf2c15d4a895e06759d276067adfb48dbcd918",
        "e91efca9ba35930fd979d9f0baa9a573db09d14a0ab5b230f6ef243180fe585e",
    ),
    (0, "test", 31): (
        "770cbab865cb4a660901f5c5273233ecf987afacf857df5512a64b2c9c6e81e3",
        "402d3162d235deddb4ad00a1c3c9db22bd402c18b24a50eeb445a4c1003e7ff0",
    ),
    (0, "test", 38): (
        "c1b7823236ca39a22ccc3f8e2c3b1b503bf9cbc18a62f68cf23037b09505dea2",
        "65900126f0a52e4eacc3b1361b56bd2d99b5d162304ee4da34a110cd6cdf0c02",
    ),
    (0, "test", 39): (
        "b3ea9574077229a52cad35f0ba53217d1fee9fe738086d2a271d4c16b0c09db4",
        "af6ad0f52084a35998a9972c125ae032316129ab4de69226ee1ccfd23df4df6a",
    ),
    (0, "test", 79): (
        "b513583f384efd5f6e2ea5b80317b5f38837426004797787ff38447574b76586",
        "b344cf716fc9f2ed693214a574a14d0b065e31920941308550426115d178932e",
    ),
    (0, "test", 102): (
        "14c05f93e19bb4acf6e317a53410a1540daef41675a337aa3d7f29e35481917e",
        "5d39cdc8ec8d4edc015bdd44a234e2b3fe7e91688da70cce6a900cb6ed56402a",
    ),
    (0, "test", 233): (
        "6716a7793aed17d5d8bb9cda15b09725c5bf02529c55c858d8cefe3fcb54765b",
        "76a035f7c4f892c5d259204fd1b9118d14931ee870bb16f2bd7baee34f55cd13",
    ),
    (0, "train", 0): (
        "371b86a272a0db63697b3c9de6d41ca1af5325778b6de3752420858ee1d2ecd3",
        "cd9e109fca78e14d36d4bd9fbf6ca5ddc5567b665807f530497c68c5447e5990",
    ),
    (0, "train", 1): (
        "fd7e67e6abf818b57e58378ee2282f16a15656bcbab8a259ce38b9ea97e15b5c",
        "8132f28d1baa5cb1c56144f27f57e5730899a41a8417415bd8110c0aaa5f6c9e",
    ),
    (0, "train", 2): (
        "49c86e91619911567e5358c12bfc4b3fb5f5a1c0ee4c7cdfe3f68b694a8dc4e5",
        "9ce145f9f4b9bff384588da20ba5f0d431d7e3cf4048a3b1fb32ada02f1a87f7",
    ),
    (0, "train", 3): (
        "72a80bf0fd8c5559a8203d83cfcc2907d6e2e49735f8682c39302ac6cccff3bc",
        "5256e25fd4daf2d5f75466e190247fdbda0b2ab44a1b98f2eca75fad70a5fd23",
    ),
    (0, "val", 0): (
        "275ed3a27582c9ed140260cb101ab0711e38c33d5ad00a07c7fd845b25b6e392",
        "9561245567cefc971a270f9859b7575639f75c183d18ab7042669e5c2eb4b0e0",
    ),
    (0, "val", 1): (
        "92c2f5ff2b63f7fedfe4d8b7f2b056c73ad4a6bc34c13fcdac622a75cc83bd1b",
        "c61f745de025ad55a28ccae4d84037842067c12fd6701bbeeb5c9dcf5a8aedc2",
    ),
    (0, "val", 2): (
        "7fbed390e236f2838483d492d37d7a0f950d2577b96ea235de59279a2c7b7f3d",
        "2862efcc60d09d6b9a0d5817bba090d016332fbe1d12825887161b23c5d45bb3",
    ),
    (0, "val", 3): (
        "218b72f5c86d65933fe1f4e1803ad157e0f1e7ae4c0c51c3389661e284f4c835",
        "c92044305dab9555fc2d3af76aed4ee997a069a64fece361af45b4d929050e3a",
    ),
    (7, "test", 0): (
        "aa96383587b820710c677fc8b51f834f3619f09ef4b3879bf6f56cc76195d228",
        "ee3cedc116fbe497887bb4a5ff43b306e4eea201bb2fda4b36558f5c55c5185b",
    ),
    (7, "test", 1): (
        "e6562b44298262c347dde258108429f183701ae76561fcee8ba4681548423c76",
        "b931ed1f05aad51f8aea88c90dbc61e383aebdf99bf1684215a5799915bb9365",
    ),
    (7, "test", 2): (
        "0bb2919c369960a3c8c513f3014ad35741f5139b9c863e54c46aba46469e5965",
        "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
    ),
    (7, "test", 3): (
        "f39e65795b425f4727c4214aeac1ab535f8f57fe935a37a7475bbb1fa42ea673",
        "a9ff47e737f7be22b6801d0aa8d21df34d25e4e7ab799b5adf0cc93c42a214ea",
    ),
}

SOURCE_PINS = {
    "seedsequence-123": (
        "2651bfbb3418df83bf109f06c8da780a15c6e0bd525bad1ee814de631b717ba9",
        "2441e6db0b283d637bdf1ccc6203069cb79e174e8fe7dacb72837fd32bcbd18b",
    ),
    "int-2031": (
        "b2cce7890d28f4dfa3adea085d0650c5d6a62d4e8f40946d5b8caf365384a863",
        "d15c2af45000c6999169dba18e2337498df9f1246f546de08735e2127af75505",
    ),
    "generator-5": (
        "3b90b06b1ce5a51970a65e538be553bb72deb070b58158d1366a5c12c03a4cba",
        "f7ee5a2775d0adf716e38d3de3a922b07904f21549ae04f9257ced283f33a16a",
    ),
}


@pytest.mark.parametrize("case", _frame_cases(), ids=lambda c: f"{c[1]}-seed{c[0]}-{c[2]}")
def test_frame_pixels_and_annotations_are_pinned(case):
    image, annotations = _frame_pin(*case)
    want_image, want_annotations = FRAME_PINS[case]
    assert annotations == want_annotations, f"annotations of {case} changed"
    assert image == want_image, f"pixels of {case} changed"


@pytest.mark.parametrize("name", list(SOURCES))
def test_render_scene_and_scene_annotations_are_pinned(name):
    image, annotations = _source_pin(name)
    want_image, want_annotations = SOURCE_PINS[name]
    assert annotations == want_annotations, f"annotations of {name} changed"
    assert image == want_image, f"pixels of {name} changed"
