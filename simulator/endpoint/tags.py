"""Tags of smsim's resources (jobs, pipelines, executions): AddTags, ListTags, DeleteTags.

Kept by ARN (lower case, as the service's ARNs) in ``<workspace>/tags.json``, so a
restarted server lists them too. The tags of a Create* request are the resource's first.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from simulator.pipeline.run.records import write_json


class TagStore:
    def __init__(self, workspace: Path) -> None:
        self.path = workspace / "tags.json"
        self._lock = threading.Lock()
        self._tags: dict[str, dict[str, str]] = {}
        if self.path.is_file():
            try:
                self._tags = json.loads(self.path.read_text())
            except ValueError:
                self._tags = {}

    def add(self, arn: str, tags: list[dict[str, str]]) -> None:
        with self._lock:
            current = self._tags.setdefault(arn.lower(), {})
            current.update({t["Key"]: t.get("Value", "") for t in tags})
            self._save()

    def list(self, arn: str) -> list[dict[str, str]]:
        with self._lock:
            return [{"Key": k, "Value": v} for k, v in self._tags.get(arn.lower(), {}).items()]

    def delete(self, arn: str, keys: list[str]) -> None:
        with self._lock:
            current = self._tags.get(arn.lower(), {})
            for key in keys:
                current.pop(key, None)
            self._save()

    def _save(self) -> None:
        write_json(self.path, self._tags)


def is_arn_of(arn: str, resource_types: tuple[str, ...]) -> bool:
    """Whether ``arn`` names a SageMaker resource of one of ``resource_types``."""
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[5].split("/", 1)[0] in resource_types


__all__ = ["TagStore", "is_arn_of"]
