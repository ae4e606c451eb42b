"""accelsim's version, in a module of its own: the cache stamps it on every entry, and the cache is
imported while the package itself is still initialising (it places Numba's cache first)."""

__version__ = "0.1.0"
