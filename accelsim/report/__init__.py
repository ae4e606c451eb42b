"""Readable renderings of result tables (terminal text; reports build on the same tables)."""
