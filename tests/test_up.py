"""`up` on a machine without a registry: zero-config builds are pointed at local base images."""
from __future__ import annotations

import pytest

from jobs.base_images import OVERRIDES, override_env


def test_without_a_registry_up_points_zero_config_builds_at_local_base_images(settings, base_images):
    from cli.up import local_base_images, registry_reachable

    if registry_reachable():
        pytest.skip("Docker Hub answers here: up keeps the official images")
    env: dict[str, str] = {"RENDERLITE_BASE_IMAGE_GO": "mine/go:{version}"}   # what the user set stays
    builder = local_base_images(settings, env)
    assert builder is not None
    builder.join(900)
    assert env == {**override_env(OVERRIDES), "RENDERLITE_BASE_IMAGE_GO": "mine/go:{version}"}
    assert local_base_images(settings, dict(env)) is None, "nothing to do once every variable is set"
