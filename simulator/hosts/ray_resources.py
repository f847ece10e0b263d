"""STUB (helper "ray"): the interface of rayinfra's instance type → Ray resources table.

The real module is rayinfra's (branch ``rayinfra``); this stand-in has the same
signatures so the Ray launcher can be developed before it lands. The lead keeps
rayinfra's version at merge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simulator.errors import SmsimError

GIB = 2**30
_TABLE = {
    "ml.m5.large": (2, 0, 8),
    "ml.m5.xlarge": (4, 0, 16),
    "ml.m5.2xlarge": (8, 0, 32),
    "ml.m5.4xlarge": (16, 0, 64),
    "ml.c5.xlarge": (4, 0, 8),
    "ml.c5.2xlarge": (8, 0, 16),
    "ml.p3.2xlarge": (8, 1, 61),
    "ml.g4dn.xlarge": (4, 1, 16),
}


def load_overrides(value: Any) -> dict[str, dict[str, Any]]:
    """Overrides from a mapping, a JSON string or a JSON file's path (None: none)."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): dict(v) for k, v in value.items()}
    text = str(value)
    path = Path(text).expanduser()
    if path.is_file():
        text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SmsimError(
            f"ray_resources: {value!r} is neither JSON nor a JSON file: {exc}"
        ) from exc
    return {str(k): dict(v) for k, v in data.items()}


def ray_resources(instance_type: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``{"num_cpus", "num_gpus", "memory"}`` (memory in bytes) of one ``instance_type`` host."""
    if overrides and instance_type in overrides:
        return {"num_cpus": 1, "num_gpus": 0, "memory": 0, **overrides[instance_type]}
    if instance_type not in _TABLE:
        raise SmsimError(f"no Ray resources known for instance type {instance_type!r}")
    cpus, gpus, mem = _TABLE[instance_type]
    return {"num_cpus": cpus, "num_gpus": gpus, "memory": mem * GIB}
