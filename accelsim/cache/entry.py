"""The entry file format: a checksummed header, then the payload.

    accelsim-cache-entry 1\\n                      magic and format version
    {"kind": ..., "key": ..., ...}\\n              header fields, JSON on one line
    <sha256 of the two lines above, 64 hex>\\n
    <payload: payload_bytes bytes whose sha256 is payload_sha256>

Both checksums together cover every byte of the file, so a flipped byte anywhere, a truncation or
foreign content is found before anything is decoded; the header's kind, key and codec are compared
with the request, so an entry copied or renamed to another key is not taken for it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from accelsim.version import __version__

FORMAT_VERSION = 1
_MAGIC = b"accelsim-cache-entry "
_MAX_HEADER_BYTES = 4096  # far above a real header; bounds the search in a foreign file
_FIELDS = {"kind": str, "key": str, "codec": str, "payload_bytes": int, "payload_sha256": str,
           "created_utc": str, "accelsim_version": str}


class Damaged(Exception):
    """Why an entry file cannot be used; the message completes 'is damaged (...)'."""


@dataclass(frozen=True)
class Expected:
    kind: str
    key: str
    codec: str


def pack(expected: Expected, payload: bytes) -> bytes:
    header = {
        "kind": expected.kind, "key": expected.key, "codec": expected.codec,
        "payload_bytes": len(payload), "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "accelsim_version": __version__,
    }
    head = _MAGIC + b"%d\n" % FORMAT_VERSION + json.dumps(header, sort_keys=True).encode() + b"\n"
    return head + hashlib.sha256(head).hexdigest().encode() + b"\n" + payload


def unpack(data: bytes, expected: Expected) -> bytes:
    """The payload of an entry file's ``data``, checked against ``expected``; raises Damaged."""
    if not data:
        raise Damaged("empty file")
    if not data.startswith(_MAGIC):
        raise Damaged("not a cache entry")
    version_end = _line_end(data, len(_MAGIC))
    version = data[len(_MAGIC):version_end]
    if version != b"%d" % FORMAT_VERSION:
        raise Damaged(f"format version {version.decode(errors='replace')!r}; this accelsim reads {FORMAT_VERSION}")
    header_end = _line_end(data, version_end + 1)
    checksum_end = _line_end(data, header_end + 1)
    if data[header_end + 1:checksum_end] != hashlib.sha256(data[:header_end + 1]).hexdigest().encode():
        raise Damaged("header checksum mismatch")
    header = _header(data[version_end + 1:header_end])
    _check_identity(header, expected)
    payload = data[checksum_end + 1:]
    if len(payload) < header["payload_bytes"]:
        raise Damaged(f"truncated: {len(payload)} of {header['payload_bytes']} payload bytes")
    if len(payload) > header["payload_bytes"]:
        raise Damaged(f"{len(payload) - header['payload_bytes']} bytes after the payload")
    if hashlib.sha256(payload).hexdigest() != header["payload_sha256"]:
        raise Damaged("payload checksum mismatch")
    return payload


def _line_end(data: bytes, start: int) -> int:
    end = data.find(b"\n", start, _MAX_HEADER_BYTES)
    if end < 0:
        raise Damaged("truncated header")
    return end


def _header(line: bytes) -> dict:
    # the checksum matched, so a bad header here was written by something else than this format's pack
    try:
        header = json.loads(line)
    except ValueError:
        raise Damaged("header is not JSON") from None
    if not isinstance(header, dict) or any(not isinstance(header.get(f), t) for f, t in _FIELDS.items()):
        raise Damaged("header lacks fields")
    return header


def _check_identity(header: dict, expected: Expected) -> None:
    found = Expected(header["kind"], header["key"], header["codec"])
    if found != expected:
        raise Damaged(f"holds kind {found.kind!r} key {found.key!r} codec {found.codec!r}, "
                      f"not kind {expected.kind!r} key {expected.key!r} codec {expected.codec!r}")
