"""The hypothesis profiles that conftest.py registers: no deadlines, which a busy machine would break."""

import pytest
from hypothesis import settings


@pytest.mark.parametrize("profile", ["ci", "local"])
def test_no_profile_has_a_deadline(profile):
    assert settings.get_profile(profile).deadline is None


def test_the_loaded_profile_has_no_deadline():
    assert settings.default.deadline is None
