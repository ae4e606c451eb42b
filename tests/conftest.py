"""Shared test settings.

CI runs property tests derandomized, so that a green main stays green; local runs keep exploring.
No profile has a deadline: on a loaded 2-core machine an example that takes milliseconds alone can take
over a second, and hypothesis's default deadline (200 ms) then fails a correct test.

The suite runs against a cache of its own, empty at the start of every session, as CI's is: a test
that expects a stage to compute (and to print its progress) must not find it done by an earlier run,
and tests must not fill or damage the user's cache. Subprocesses inherit it through the environment.
"""

import os
import shutil
import tempfile

import pytest
import torch
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
settings.register_profile("local", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "local")


def pytest_configure(config):
    config.accelsim_cache = tempfile.mkdtemp(prefix="accelsim-test-cache-")
    os.environ["ACCELSIM_CACHE_DIR"] = config.accelsim_cache


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "accelsim_cache", ""), ignore_errors=True)


@pytest.fixture
def one_thread():
    """Small networks train faster on one thread, and much faster on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
