"""User-facing errors.

Every error a user can cause (a bad plan, a missing file, a corrupt weights file) is raised as an
`AccelsimError`; the CLI prints its message on one line and exits with status 2 instead of showing a
traceback. Messages name the file, the field and what was expected.
"""

from __future__ import annotations


class AccelsimError(Exception):
    """An error caused by user input; its message is shown without a traceback."""


class PlanError(AccelsimError):
    """A compression plan that cannot be applied to the model it was given."""


class ConfigError(AccelsimError):
    """A hardware config that does not validate."""


class StorageError(AccelsimError):
    """A compressed-model file that is missing, truncated, corrupt or of another format version."""


class ModelError(AccelsimError):
    """An unknown model name or a weights file that does not fit the model."""


class DatasetError(AccelsimError):
    """A dataset that is missing, malformed or corrupt (a bad .seq header, a missing .vbb, bad JSON)."""


class SweepError(AccelsimError):
    """A sweep spec that does not validate, or a results store that belongs to another sweep."""
