"""Pedestrian sets in COCO-style JSON (``images``, ``annotations``, ``categories``).

Annotations of the chosen categories (by name, case-insensitive) become ``person`` boxes; ``iscrowd: 1``
makes a ``people`` box and an ``ignore: 1`` flag (as CityPersons and converted Caltech sets carry) an
``ignore`` box. The visible fraction comes from ``vis_ratio`` or ``visibility`` when present. Other
categories are dropped. Images are looked up as ``images_dir/file_name``; without ``images_dir``, next to
the JSON file and then in its ``images/`` folder.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from accelsim.detect.types import Annotation, Frame
from accelsim.errors import DatasetError


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _id_key(x):
    return (isinstance(x, str), x)


def _image_file(candidates: tuple[Path, ...]) -> Path | None:
    """The first of the folders that holds the image."""
    return next((c for c in candidates if c.is_file()), None)


def _load_image(candidates: tuple[Path, ...], width: int, height: int, json_path: Path, image_id) -> np.ndarray:
    from PIL import Image

    path = _image_file(candidates)
    if path is None:
        looked = " and ".join(str(c) for c in candidates)
        raise DatasetError(f"{json_path}: image file of image id {image_id} not found: looked for {looked}")
    try:
        with Image.open(path) as img:
            img.load()
            rgb = img.convert("RGB")
    except (OSError, ValueError, SyntaxError) as exc:
        raise DatasetError(f"{path} is not a readable image: {exc}") from None
    if rgb.size != (width, height):
        raise DatasetError(
            f"{path} is {rgb.size[0]}x{rgb.size[1]} px but {json_path} gives width {width}, height {height} "
            f"for image id {image_id}"
        )
    return np.asarray(rgb, dtype=np.uint8)


class CocoDataset:
    """Frames of a COCO-style JSON file, in image-id order. ``frame_id`` is the image id as text."""

    def __init__(
        self,
        json_path: str | os.PathLike,
        images_dir: str | os.PathLike | None = None,
        categories: Sequence[str] = ("person", "pedestrian"),
    ):
        path = Path(json_path)
        self.json_path = path
        self.name = f"coco:{json_path}"
        if not path.is_file():
            what = "is not a file" if path.exists() else "does not exist"
            raise DatasetError(f"COCO annotation file {path} {what}")
        if images_dir is not None:
            images_dir = Path(images_dir)
            if not images_dir.is_dir():
                raise DatasetError(f"images folder {images_dir} (for {path}) does not exist")
            folders: tuple[Path, ...] = (images_dir,)
        else:
            folders = (path.parent, path.parent / "images")
        self.images_dir = images_dir

        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from None
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{path} is not UTF-8 text (byte {exc.start}); expected a COCO JSON file") from None
        except OSError as exc:
            raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None

        if not isinstance(doc, dict):
            raise DatasetError(f"{path}: top level is a JSON {type(doc).__name__}; expected an object with "
                               "images, annotations and categories")
        for key in ("images", "annotations", "categories"):
            if key not in doc:
                raise DatasetError(f"{path}: missing required key '{key}'; expected a COCO JSON with images, "
                                   "annotations and categories")
            if not isinstance(doc[key], list):
                raise DatasetError(f"{path}: '{key}' is a JSON {type(doc[key]).__name__}; expected a list")

        # categories
        wanted = {c.casefold() for c in categories}
        cat_names: dict = {}
        for i, cat in enumerate(doc["categories"]):
            where = f"{path}: categories[{i}]"
            self._require(where, cat, ("id", "name"))
            if not (_is_int(cat["id"]) or isinstance(cat["id"], str)):
                raise DatasetError(f"{where}: id {cat['id']!r} is not an integer or string")
            if cat["id"] in cat_names:
                raise DatasetError(f"{where}: category id {cat['id']!r} appears twice")
            cat_names[cat["id"]] = str(cat["name"])
        keep = {cid for cid, name in cat_names.items() if name.casefold() in wanted}
        if not keep:
            have = ", ".join(sorted(set(cat_names.values()))) or "none"
            raise DatasetError(f"{path}: no category named {' or '.join(categories)}; its categories are: {have}")

        # images
        images: dict = {}
        for i, img in enumerate(doc["images"]):
            where = f"{path}: images[{i}]"
            self._require(where, img, ("id", "file_name", "width", "height"))
            iid = img["id"]
            if not (_is_int(iid) or isinstance(iid, str)):
                raise DatasetError(f"{where}: id {iid!r} is not an integer or string")
            if iid in images:
                raise DatasetError(f"{where}: image id {iid!r} appears twice")
            for key in ("width", "height"):
                if not _is_int(img[key]) or img[key] <= 0:
                    raise DatasetError(f"{where} (id {iid!r}): {key} is {img[key]!r}; expected a positive integer")
            if not isinstance(img["file_name"], str) or not img["file_name"]:
                raise DatasetError(f"{where} (id {iid!r}): file_name is {img['file_name']!r}; expected a file name")
            images[iid] = img

        # annotations
        objects: dict = {iid: [] for iid in images}
        for i, ann in enumerate(doc["annotations"]):
            where = f"{path}: annotations[{i}]"
            if isinstance(ann, dict) and "id" in ann:
                where += f" (id {ann['id']!r})"
            self._require(where, ann, ("image_id", "bbox", "category_id"))
            for key in ("image_id", "category_id"):
                if not (_is_int(ann[key]) or isinstance(ann[key], str)):
                    raise DatasetError(f"{where}: {key} is {ann[key]!r}; expected an integer or string id")
            if ann["image_id"] not in images:
                raise DatasetError(f"{where}: image_id {ann['image_id']!r} is not the id of any entry in images")
            if ann["category_id"] not in cat_names:
                raise DatasetError(
                    f"{where}: category_id {ann['category_id']!r} is not the id of any entry in categories"
                )
            bbox = ann["bbox"]
            if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
                raise DatasetError(f"{where}: bbox is {bbox!r}; expected [x, y, width, height] numbers")
            if bbox[2] <= 0 or bbox[3] <= 0:
                raise DatasetError(f"{where}: bbox {bbox} has a non-positive width or height")
            if ann["category_id"] not in keep:
                continue
            crowd = self._flag(where, ann, "iscrowd")
            ignore = self._flag(where, ann, "ignore")
            visible = 1.0
            for key in ("vis_ratio", "visibility"):
                if key in ann:
                    v = ann[key]
                    if not _is_number(v) or not 0.0 <= v <= 1.0:
                        raise DatasetError(f"{where}: {key} is {v!r}; expected a number in [0, 1]")
                    visible = float(v)
                    break
            label = "ignore" if ignore else "people" if crowd else "person"
            objects[ann["image_id"]].append(
                Annotation(box=tuple(float(v) for v in bbox), label=label, visible=visible)
            )

        self._frames = []
        for iid in sorted(images, key=_id_key):
            img = images[iid]
            candidates = tuple(folder / img["file_name"] for folder in folders)
            self._frames.append(Frame(
                frame_id=str(iid),
                width=img["width"],
                height=img["height"],
                objects=tuple(objects[iid]),
                load=functools.partial(_load_image, candidates, img["width"], img["height"], path, iid),
                sources=tuple(p for p in (path, _image_file(candidates)) if p is not None),
            ))

    @staticmethod
    def _require(where: str, entry, keys: tuple[str, ...]) -> None:
        if not isinstance(entry, dict):
            raise DatasetError(f"{where} is a JSON {type(entry).__name__}; expected an object with {', '.join(keys)}")
        missing = [k for k in keys if k not in entry]
        if missing:
            raise DatasetError(f"{where}: missing required key{'s' if len(missing) > 1 else ''} "
                               f"{', '.join(repr(k) for k in missing)}")

    @staticmethod
    def _flag(where: str, ann: dict, key: str) -> bool:
        v = ann.get(key, 0)
        if v in (0, 1) and (isinstance(v, (bool, int))):
            return bool(v)
        raise DatasetError(f"{where}: {key} is {v!r}; expected 0 or 1")

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, index: int) -> Frame:
        return self._frames[index]

    def __repr__(self) -> str:
        return f"CocoDataset({self.name!r}, {len(self)} frames)"
