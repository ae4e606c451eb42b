"""accelsim: hardware co-design simulator for compressed embedded pedestrian detectors.

Data flows one way: config -> compression -> workload -> simulation -> results -> report.
"""

from accelsim.cache.location import default_numba_cache_dir
from accelsim.version import __version__

__all__ = ["__version__"]

# Numba reads NUMBA_CACHE_DIR once, when first imported, and accelsim's kernels import it: set before
# any of them is imported, so that compiled kernels go to the user cache directory, not the package.
default_numba_cache_dir()
