"""Where the cache lives: ``$ACCELSIM_CACHE_DIR``, else the user's cache directory.

Never inside the package or a checkout: a cache there is lost with the checkout, shared by nothing,
and written into a tree that may be read-only (an installed wheel).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

CACHE_DIR_VARIABLE = "ACCELSIM_CACHE_DIR"
NUMBA_SUBDIR = "numba"


def cache_dir() -> Path:
    """The cache root, read from the environment at each call (so that tests and subprocesses can
    move it); absolute, so that a relative ``$ACCELSIM_CACHE_DIR`` does not follow the working directory."""
    chosen = os.environ.get(CACHE_DIR_VARIABLE)
    root = Path(chosen).expanduser() if chosen else Path(platformdirs.user_cache_dir("accelsim"))
    return root.absolute()


def default_numba_cache_dir() -> None:
    """Point Numba's kernel cache (``cache=True``) at ``<cache_dir()>/numba`` unless the user chose one.

    Numba reads ``NUMBA_CACHE_DIR`` when it is first imported and otherwise writes ``.nbi``/``.nbc``
    files into ``__pycache__`` next to the kernels' sources, inside the package. Setting the variable
    (rather than Numba's config) also carries it to worker subprocesses."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    os.environ["NUMBA_CACHE_DIR"] = str(cache_dir() / NUMBA_SUBDIR)
    numba = sys.modules.get("numba")
    if numba is not None:  # imported before accelsim: its config already read the environment
        numba.core.config.reload_config()
