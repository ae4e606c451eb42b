"""Content-based keys: ``key_of`` for values, ``source_digest`` for accelsim's own code.

A key must change whenever anything the cached value depends on changes, and must not change for
anything else (dict order, list vs tuple, where the checkout lives).
"""

from __future__ import annotations

import functools
import hashlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

KEY_HEX_DIGITS = 32  # 128 bits of sha256: collisions are out of reach for any number of entries
# Part of every key, so that a change of the encoding below can never reuse keys of the old one.
_KEY_ENCODING = b"accelsim-key-v1\x00"


def key_of(*parts: object) -> str:
    """A hex digest of ``parts``: JSON-able values (dict order does not matter, tuples are lists,
    floats are exact), ``bytes``, and numpy scalars and arrays (by dtype, shape and bytes).

    Types are part of the encoding: ``1``, ``1.0``, ``True``, ``"1"`` and ``b"1"`` give different keys."""
    digest = hashlib.sha256(_KEY_ENCODING)
    for chunk in _encode(list(parts)):
        digest.update(chunk)
    return digest.hexdigest()[:KEY_HEX_DIGITS]


def _encode(value: object) -> Iterator[bytes]:
    """A canonical, self-delimiting byte stream: every item carries a type tag and a length or a
    terminator, so no two different values concatenate to the same bytes."""
    numpy = sys.modules.get("numpy")  # an array or numpy scalar implies numpy is already imported
    if numpy is not None and isinstance(value, numpy.generic):
        value = value.item()  # np.float32(x) keys like the float it holds exactly
    if value is None:
        yield b"N"
    elif isinstance(value, bool):
        yield b"T" if value else b"F"
    elif isinstance(value, int):
        yield b"i%d;" % value
    elif isinstance(value, float):
        # float.__repr__ is the shortest exact text; numpy 2's repr of np.float64 would add its type name
        yield b"f" + float.__repr__(value).encode() + b";"
    elif isinstance(value, str):
        yield from _sized(b"s", value.encode("utf-8"))
    elif isinstance(value, (bytes, bytearray, memoryview)):
        yield from _sized(b"b", bytes(value))
    elif isinstance(value, (list, tuple)):
        yield b"l%d[" % len(value)
        for item in value:
            yield from _encode(item)
        yield b"]"
    elif isinstance(value, Mapping):
        yield from _encode_mapping(value)
    elif numpy is not None and isinstance(value, numpy.ndarray):
        yield from _encode_array(value, numpy)
    else:
        raise TypeError(f"key_of cannot encode {type(value).__name__} values; pass JSON-able data, bytes, "
                        f"numpy arrays, or a digest (file_digest for files)")


def _sized(tag: bytes, data: bytes) -> Iterator[bytes]:
    yield tag + b"%d:" % len(data)
    yield data


def _encode_mapping(value: Mapping) -> Iterator[bytes]:
    if not all(isinstance(k, str) for k in value):
        raise TypeError("key_of needs dict keys that are strings, as in JSON")
    yield b"d%d{" % len(value)
    for name in sorted(value):
        yield from _sized(b"s", name.encode("utf-8"))
        yield from _encode(value[name])
    yield b"}"


def _encode_array(value, numpy) -> Iterator[bytes]:
    if value.dtype.hasobject:
        raise TypeError("key_of cannot encode numpy arrays of Python objects")
    yield from _sized(b"a", value.dtype.str.encode())
    yield b"%d(" % value.ndim + b",".join(b"%d" % n for n in value.shape) + b")"
    yield from _sized(b"b", numpy.ascontiguousarray(value).tobytes())


def source_digest(*modules: str) -> str:
    """A digest of the ``.py`` sources of accelsim modules and packages by dotted name (packages
    recursively), e.g. ``source_digest("accelsim.compress", "accelsim.detect")``. Files are named by
    their path inside the package, so a checkout and an installed wheel of the same code agree.
    Memoised per process: the sources of a running program do not change under it."""
    return _memoised_source_digest(tuple(sorted(set(modules))))


@functools.cache
def _memoised_source_digest(modules: tuple[str, ...]) -> str:
    return digest_sources(Path(__file__).resolve().parent.parent, modules)


def digest_sources(package_root: Path, modules: tuple[str, ...]) -> str:
    """The digest of ``modules`` (dotted names starting with the package's name) found under
    ``package_root``, the directory of that top-level package."""
    files: set[Path] = set()
    for name in modules:
        files.update(_module_files(package_root, name))
    digest = hashlib.sha256(_KEY_ENCODING)
    for path in sorted(files, key=lambda p: p.relative_to(package_root).as_posix()):
        for chunk in _encode([path.relative_to(package_root).as_posix(), path.read_bytes()]):
            digest.update(chunk)
    return digest.hexdigest()[:KEY_HEX_DIGITS]


def _module_files(package_root: Path, name: str) -> list[Path]:
    top, *rest = name.split(".")
    if top != package_root.name:
        raise ValueError(f"source_digest takes {package_root.name} modules, not {name!r}")
    target = package_root.joinpath(*rest)
    if (target / "__init__.py").is_file():
        return [p for p in target.rglob("*.py") if "__pycache__" not in p.relative_to(target).parts]
    if target.with_suffix(".py").is_file():
        return [target.with_suffix(".py")]
    raise ValueError(f"no module or package {name!r} in {package_root}")
