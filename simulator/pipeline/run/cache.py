"""Step caching as SageMaker Pipelines defines it (developer guide, "Caching pipeline steps"
and "Default cache key attributes by pipeline step type").

A step with ``CacheConfig: {"Enabled": true, "ExpireAfter": "P30D"}`` reuses the latest
*Succeeded* run of the same step (same name, same pipeline) whose cache-key attributes are
identical and that has not expired; the step is then listed with
``CacheHitResult.SourcePipelineExecutionArn``, its properties are the source run's and no job
runs. Only the documented attributes of the step's request count: an output path holding the
execution id, or the generated job name, does not make a miss.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

from simulator.errors import Problem

# The attributes of each step type's request that make the cache key (developer guide,
# "Default cache key attributes by pipeline step type"). Other step types are never cached.
CACHE_KEY_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
    "Tuning": ("HyperParameterTuningJobConfig", "TrainingJobDefinition", "TrainingJobDefinitions"),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
}

# ISO 8601 duration, the form of ExpireAfter ("P30D", "PT1H", "P1Y2M3DT4H5M6S", "P2W").
_DURATION = re.compile(
    r"^P(?!$)(?:(?P<Y>\d+)Y)?(?:(?P<M>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> dt.timedelta:
    """An ISO 8601 duration as a timedelta (a year is 365 days, a month 30); ValueError
    naming the value and the form otherwise."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"{text!r} is not an ISO 8601 duration; write e.g. 'P30D' (30 days), 'PT12H', 'P1W'"
        )
    g = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    days = g["Y"] * 365 + g["M"] * 30 + g["W"] * 7 + g["D"]
    return dt.timedelta(days=days, hours=g["h"], minutes=g["m"], seconds=g["s"])


def caching_enabled(step_type: str, cache_config: dict[str, Any] | None) -> bool:
    return bool(cache_config and cache_config.get("Enabled")) and (
        step_type in CACHE_KEY_ATTRIBUTES
    )


def expire_after(cache_config: dict[str, Any] | None) -> dt.timedelta | None:
    """How long a run stays reusable; None when ExpireAfter is absent (no expiry)."""
    text = (cache_config or {}).get("ExpireAfter")
    return parse_duration(text) if text else None


def cache_key(step_type: str, request: dict[str, Any]) -> str:
    """A digest of the step's cache-key attributes in its evaluated request."""
    keyed = {name: request.get(name) for name in CACHE_KEY_ATTRIBUTES[step_type]}
    text = json.dumps(keyed, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_cache_config(where: str, step_name: str, cache_config: Any) -> list[Problem]:
    """Problems of one step's CacheConfig (checked when the pipeline is created)."""
    if cache_config is None:
        return []
    if not isinstance(cache_config, dict):
        return [Problem(f"{where}.CacheConfig", "must be an object", cache_config)]
    problems = []
    enabled = cache_config.get("Enabled")
    if not isinstance(enabled, bool):
        problems.append(
            Problem(
                f"{where}.CacheConfig.Enabled",
                f"step {step_name!r}: Enabled must be true or false",
                enabled,
                "CacheConfig(enable_caching=True, expire_after='P30D')",
            )
        )
    text = cache_config.get("ExpireAfter")
    if text is not None:
        try:
            parse_duration(text)
        except ValueError as exc:
            problems.append(Problem(f"{where}.CacheConfig.ExpireAfter", str(exc), text))
    return problems


def find_source(
    executions: list[Any],
    current_arn: str,
    step_name: str,
    key: str,
    ttl: dt.timedelta | None,
    now: dt.datetime,
) -> tuple[Any, Any] | None:
    """(execution, step record) of the latest reusable run of ``step_name``: Succeeded, same
    key, not expired. A run that was itself a cache hit points to the run it reused."""
    candidates = []
    for execution in executions:
        if execution.execution_arn == current_arn:
            continue
        with execution.lock:
            rec = execution.steps.get(step_name)
            if rec is None or rec.status != "Succeeded" or rec.cache_key != key:
                continue
            if rec.end_time is None or (ttl is not None and rec.end_time + ttl < now):
                continue
            candidates.append((rec.end_time, execution, rec))
    if not candidates:
        return None
    _, execution, rec = max(candidates, key=lambda c: c[0])
    if rec.cache_source is not None:  # a hit's source is where the step really ran
        source = next((e for e in executions if e.execution_arn == rec.cache_source), None)
        if source is not None and step_name in source.steps:
            return source, source.steps[step_name]
    return execution, rec


def reuse_cached(executor: Any, step: Any, rec: Any, request: dict[str, Any]) -> bool:
    """CacheConfig: take the latest reusable run's results instead of running a job."""
    if not caching_enabled(step.type, step.cache_config):
        return False
    key = cache_key(step.type, request)
    rec.cache_key = key
    if executor.history is None:
        return False
    found = find_source(
        executor.history(),
        executor.record.execution_arn,
        step.name,
        key,
        expire_after(step.cache_config),
        dt.datetime.now(dt.UTC),
    )
    if found is None or found[1].description is None:
        return False  # no run to reuse, or its job is gone from the workspace
    source_execution, source = found
    with executor.record.lock:
        rec.cache_source = source_execution.execution_arn
        rec.job, rec.own_description = source.job, source.own_description
        rec.job_name, rec.metadata = source.job_name, dict(source.metadata)
        files = source_execution.property_files.get(step.name)
        if files:
            executor.record.property_files[step.name] = dict(files)
        executor.record.changed()
    return True


__all__ = [
    "reuse_cached",
    "CACHE_KEY_ATTRIBUTES",
    "cache_key",
    "caching_enabled",
    "check_cache_config",
    "expire_after",
    "find_source",
    "parse_duration",
]
