"""Codecs turn a cached value into the bytes of an entry's payload and back.

An entry records its codec's name, so bytes written by one codec are never decoded by another.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Codec(Protocol[T]):
    name: str

    def encode(self, value: T) -> bytes: ...

    def decode(self, data: bytes) -> T: ...


class JsonCodec:
    """dicts and lists as UTF-8 JSON. Python's json writes floats by ``repr``, so they read back
    exactly; NaN and infinities are written as Python's json does (``NaN``, ``Infinity``)."""

    name = "json"

    def encode(self, value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def decode(self, data: bytes) -> Any:
        return json.loads(data.decode("utf-8"))


class BytesCodec:
    """Bytes as they are: callers serialise themselves (an ``.npz`` written to ``io.BytesIO``)."""

    name = "bytes"

    def encode(self, value: bytes) -> bytes:
        return bytes(value)

    def decode(self, data: bytes) -> bytes:
        return data
