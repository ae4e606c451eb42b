"""One cache for everything accelsim computes once and reuses (compressed models, accuracies).

It owns the location (``cache_dir()``: ``$ACCELSIM_CACHE_DIR`` or the user's cache directory),
content-based keys (``key_of``, ``file_digest``, ``source_digest``), checksummed entries, atomic
writes and per-entry locks; callers ask it and never build cache paths::

    cache = default_cache()
    key = key_of(model_name, plan.model_dump(), file_digest(weights), source_digest("accelsim.compress"))
    found = cache.get_or_compute("compressed", key, lambda: npz_bytes(compress(...)), BytesCodec())
"""

from accelsim.cache.codec import BytesCodec, Codec, JsonCodec
from accelsim.cache.digests import file_digest
from accelsim.cache.keys import key_of, source_digest
from accelsim.cache.location import cache_dir
from accelsim.cache.store import Cache, CacheInfo, KindInfo, Lookup, default_cache

__all__ = ["BytesCodec", "Cache", "CacheInfo", "Codec", "JsonCodec", "KindInfo", "Lookup", "cache_dir",
           "default_cache", "file_digest", "key_of", "source_digest"]
