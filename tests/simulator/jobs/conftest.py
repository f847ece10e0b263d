"""``container_mode``: run a job test once per way a host can start (namespace, fallback).

The mode is set through ``$SMSIM_CONTAINER_MODE``, read when a job starts; the namespace
run is skipped (with the probe's reason) where no mount namespace can be made.
"""

from __future__ import annotations

import pytest

from simulator.hosts import namespace
from simulator.hosts.local import MODE_ENV


@pytest.fixture(params=["namespace", "fallback"])
def container_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    mode = str(request.param)
    if mode == "namespace" and not namespace.probe().available:
        pytest.skip(f"no mount namespace here: {namespace.probe().reason}")
    monkeypatch.setenv(MODE_ENV, mode)
    return mode
