"""COCO-style JSON reader: a tiny JSON and PNG/JPEG images written in tmp_path."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from PIL import Image

from accelsim.detect.datasets.coco import CocoDataset
from accelsim.detect.types import Annotation
from accelsim.errors import DatasetError


def pixels(seed: int, w: int, h: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def base_doc():
    return {
        "images": [
            {"id": 7, "file_name": "b.png", "width": 12, "height": 10},
            {"id": 2, "file_name": "a.png", "width": 8, "height": 6},
            {"id": 5, "file_name": "c.jpg", "width": 16, "height": 8},
        ],
        "categories": [
            {"id": 1, "name": "person"},
            {"id": 2, "name": "car"},
            {"id": 3, "name": "Pedestrian"},
        ],
        "annotations": [
            {"id": 10, "image_id": 2, "bbox": [1, 2, 3, 4], "category_id": 1, "iscrowd": 0},
            {"id": 11, "image_id": 2, "bbox": [0.5, 0, 5, 6], "category_id": 1, "iscrowd": 1},
            {"id": 12, "image_id": 7, "bbox": [2, 2, 4, 8], "category_id": 2, "iscrowd": 0},  # car: dropped
            {"id": 13, "image_id": 7, "bbox": [3, 1, 2, 5], "category_id": 3, "iscrowd": 0, "vis_ratio": 0.4},
            {"id": 14, "image_id": 7, "bbox": [0, 0, 6, 9], "category_id": 1, "iscrowd": 0, "ignore": 1},
            {"id": 15, "image_id": 7, "bbox": [1, 1, 1, 2], "category_id": 1, "visibility": 0.75},
        ],
    }


def write_set(tmp_path, doc=None, image_folder=None):
    folder = tmp_path if image_folder is None else tmp_path / image_folder
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels(1, 12, 10)).save(folder / "b.png")
    Image.fromarray(pixels(2, 8, 6)).save(folder / "a.png")
    Image.fromarray(np.full((8, 16, 3), 120, dtype=np.uint8)).save(folder / "c.jpg", quality=95)
    path = tmp_path / "peds.json"
    path.write_text(json.dumps(base_doc() if doc is None else doc))
    return path


def test_frames_objects_and_pixels(tmp_path):
    path = write_set(tmp_path)
    ds = CocoDataset(path)
    assert ds.name == f"coco:{path}"
    assert len(ds) == 3
    assert [f.frame_id for f in ds] == ["2", "5", "7"]  # image-id order
    assert [(f.width, f.height) for f in ds] == [(8, 6), (16, 8), (12, 10)]
    assert ds[0].objects == (
        Annotation((1.0, 2.0, 3.0, 4.0), "person", 1.0),
        Annotation((0.5, 0.0, 5.0, 6.0), "people", 1.0),
    )
    assert ds[1].objects == ()
    assert ds[2].objects == (
        Annotation((3.0, 1.0, 2.0, 5.0), "person", 0.4),
        Annotation((0.0, 0.0, 6.0, 9.0), "ignore", 1.0),
        Annotation((1.0, 1.0, 1.0, 2.0), "person", 0.75),
    )
    assert np.array_equal(ds[0].image(), pixels(2, 8, 6))
    assert np.array_equal(ds[2].image(), pixels(1, 12, 10))
    jpg = ds[1].image()
    assert jpg.shape == (8, 16, 3) and jpg.dtype == np.uint8
    assert np.abs(jpg.astype(int) - 120).max() <= 2


def test_category_choice(tmp_path):
    path = write_set(tmp_path)
    ds = CocoDataset(path, categories=("car",))
    assert [len(f.objects) for f in ds] == [0, 0, 1]
    assert ds[2].objects == (Annotation((2.0, 2.0, 4.0, 8.0), "person", 1.0),)


def test_images_subfolder_and_explicit_dir(tmp_path):
    path = write_set(tmp_path, image_folder="images")
    assert np.array_equal(CocoDataset(path)[0].image(), pixels(2, 8, 6))
    other = tmp_path / "elsewhere"
    write_set(other)
    ds = CocoDataset(path, images_dir=other)
    assert np.array_equal(ds[2].image(), pixels(1, 12, 10))


def test_frames_pickle(tmp_path):
    path = write_set(tmp_path)
    frame = pickle.loads(pickle.dumps(CocoDataset(path)[0]))
    assert np.array_equal(frame.image(), pixels(2, 8, 6))


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError) as e:
        CocoDataset(tmp_path / "none.json")
    assert str(e.value) == f"COCO annotation file {tmp_path / 'none.json'} does not exist"


def test_invalid_json_line_col(tmp_path):
    path = tmp_path / "peds.json"
    path.write_text('{\n  "images": [,]\n}\n')
    with pytest.raises(DatasetError) as e:
        CocoDataset(path)
    assert str(e.value) == f"{path} is not valid JSON: Expecting value at line 2, column 14"


def test_missing_top_level_key(tmp_path):
    doc = base_doc()
    del doc["annotations"]
    path = write_set(tmp_path, doc)
    with pytest.raises(DatasetError) as e:
        CocoDataset(path)
    assert str(e.value) == (
        f"{path}: missing required key 'annotations'; expected a COCO JSON with images, annotations and categories"
    )


def test_missing_image_keys(tmp_path):
    doc = base_doc()
    del doc["images"][1]["width"]
    del doc["images"][1]["height"]
    path = write_set(tmp_path, doc)
    with pytest.raises(DatasetError) as e:
        CocoDataset(path)
    assert str(e.value) == f"{path}: images[1]: missing required keys 'width', 'height'"


def test_missing_annotation_key(tmp_path):
    doc = base_doc()
    del doc["annotations"][3]["bbox"]
    path = write_set(tmp_path, doc)
    with pytest.raises(DatasetError) as e:
        CocoDataset(path)
    assert str(e.value) == f"{path}: annotations[3] (id 13): missing required key 'bbox'"


def test_unknown_image_id(tmp_path):
    doc = base_doc()
    doc["annotations"][0]["image_id"] = 99
    path = write_set(tmp_path, doc)
    with pytest.raises(DatasetError) as e:
        CocoDataset(path)
    assert str(e.value) == f"{path}: annotations[0] (id 10): image_id 99 is not the id of any entry in images"


@pytest.mark.parametrize("bbox", [[1, 2, 0, 4], [1, 2, 3, -1]])
def test_non_positive_bbox(tmp_path, bbox):
    doc = base_doc()
    doc["annotations"][1]["bbox"] = bbox
    path = write_set(tmp_path, doc)
    with pytest.raises(DatasetError) as e:
        CocoDataset(path)
    assert str(e.value) == f"{path}: annotations[1] (id 11): bbox {bbox} has a non-positive width or height"


def test_bad_visibility(tmp_path):
    doc = base_doc()
    doc["annotations"][5]["visibility"] = 1.5
    path = write_set(tmp_path, doc)
    with pytest.raises(DatasetError, match=r"annotations\[5\] \(id 15\): visibility is 1.5; expected a number in \[0, 1\]"):
        CocoDataset(path)


def test_missing_image_file_raised_on_load(tmp_path):
    path = write_set(tmp_path)
    (tmp_path / "b.png").unlink()
    ds = CocoDataset(path)  # building does not touch pixels
    ds[0].image()
    with pytest.raises(DatasetError) as e:
        ds[2].image()
    assert str(e.value) == (
        f"{path}: image file of image id 7 not found: looked for {tmp_path / 'b.png'} and {tmp_path / 'images' / 'b.png'}"
    )


def test_image_size_disagrees(tmp_path):
    doc = base_doc()
    doc["images"][0]["width"] = 13
    path = write_set(tmp_path, doc)
    ds = CocoDataset(path)
    with pytest.raises(DatasetError) as e:
        ds[2].image()
    assert str(e.value) == (
        f"{tmp_path / 'b.png'} is 12x10 px but {path} gives width 13, height 10 for image id 7"
    )


def test_corrupt_image(tmp_path):
    path = write_set(tmp_path)
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(DatasetError, match="a.png is not a readable image"):
        CocoDataset(path)[0].image()


def test_no_person_category(tmp_path):
    doc = base_doc()
    doc["categories"] = [{"id": 1, "name": "car"}, {"id": 2, "name": "bus"}, {"id": 3, "name": "dog"}]
    path = write_set(tmp_path, doc)
    with pytest.raises(DatasetError) as e:
        CocoDataset(path)
    assert str(e.value) == f"{path}: no category named person or pedestrian; its categories are: bus, car, dog"


def test_missing_images_dir(tmp_path):
    path = write_set(tmp_path)
    with pytest.raises(DatasetError, match="images folder .*nowhere .* does not exist"):
        CocoDataset(path, images_dir=tmp_path / "nowhere")
