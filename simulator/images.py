"""Container image URI → the Python interpreter that stands in for it.

Without Docker an image is only "which Python runs the script". By default
every image maps to the interpreter running smsim (``sys.executable``). A
small JSON file maps image URIs to other interpreters, so a user can point a
DLC image at a venv that holds that image's packages::

    {
      "763104351884.dkr.ecr.*.amazonaws.com/pytorch-training:2.1-*": "/opt/venvs/pt21/bin/python",
      "*sagemaker-scikit-learn*": "/usr/bin/python3"
    }

Keys are exact URIs or ``fnmatch`` patterns; the first exact match wins, then
the longest matching pattern. The file is looked up, first found wins:
``LocalSageMaker(images=...)`` (a path or a dict), ``$SMSIM_IMAGES``,
``<workspace>/images.json``.

An image also decides what runs when a training request names no script: SageMaker's
algorithm images run their built-in algorithm. :func:`builtin_algorithm` maps those
images to smsim's stand-in entry points (``simulator/algorithms/``), run with the
image's interpreter.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from simulator.errors import Problem, ValidationError

IMAGES_ENV = "SMSIM_IMAGES"
IMAGES_FILE = "images.json"


class ImageMap:
    """Resolve an image URI to an interpreter path."""

    def __init__(self, entries: Mapping[str, str] | None = None, source: str = "") -> None:
        self.entries = dict(entries or {})
        self.source = source or "built-in default"
        self.default = sys.executable

    @classmethod
    def load(
        cls, images: str | os.PathLike[str] | Mapping[str, str] | None, workspace: Path
    ) -> ImageMap:
        """Build the map from an explicit argument, ``$SMSIM_IMAGES`` or the workspace file."""
        if isinstance(images, Mapping):
            return cls(images, "LocalSageMaker(images=…)")
        candidates = [images, os.environ.get(IMAGES_ENV), workspace / IMAGES_FILE]
        for candidate in candidates:
            if candidate and Path(candidate).is_file():
                return cls.from_file(Path(candidate))
            if candidate is images and images is not None:
                raise ValidationError(
                    "images",
                    [Problem("images", "no such file", str(images), "give a JSON file path")],
                )
        return cls()

    @classmethod
    def from_file(cls, path: Path) -> ImageMap:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValidationError(
                "images file", [Problem(str(path), f"not readable JSON: {exc}")]
            ) from exc
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise ValidationError(
                "images file",
                [Problem(str(path), "must be a JSON object of image URI → interpreter path")],
            )
        return cls(data, str(path))

    def interpreter(self, image_uri: str | None) -> str:
        """The interpreter for ``image_uri`` (the default when no entry matches)."""
        if not image_uri:
            return self.default
        if image_uri in self.entries:
            return self._checked(image_uri, self.entries[image_uri])
        matches = [p for p in self.entries if fnmatch.fnmatchcase(image_uri, p)]
        if matches:
            best = max(matches, key=len)
            return self._checked(best, self.entries[best])
        return self.default

    def _checked(self, key: str, interpreter: str) -> str:
        path = Path(interpreter).expanduser()
        if not os.access(path, os.X_OK):
            raise ValidationError(
                "images map",
                [
                    Problem(
                        f"{self.source}[{key!r}]",
                        "interpreter is not an executable file",
                        interpreter,
                        "point it at a python binary, e.g. /path/to/venv/bin/python",
                    )
                ],
            )
        return str(path)


# -- built-in algorithms --------------------------------------------------------------------
@dataclass(frozen=True)
class BuiltinAlgorithm:
    """What an algorithm image runs when a request names no script (no sagemaker_program)."""

    name: str
    entry_point: Path  # a self-contained script, run as `<interpreter> <entry_point>`
    # The algorithm's own metric definitions: SageMaker publishes them for its built-in
    # algorithms and fills FinalMetricDataList from them without the request naming any.
    metric_definitions: tuple[dict[str, str], ...]


# A number, as the service's published XGBoost metric regexes capture it (the container's
# own `(\S+)` would swallow the rest of the line after any metric but the last).
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def _xgboost_metrics() -> tuple[dict[str, str], ...]:
    # The sagemaker-xgboost container's metrics (algorithm_mode/metrics.py, developer
    # guide "Tune an XGBoost model"): `<channel>:<metric>` matched on the CloudWatch text
    # of the per-round line, where a tab shows as #011.
    names = ("accuracy", "auc", "aucpr", "error", "f1", "logloss", "mae", "map", "merror")
    names += ("mlogloss", "mse", "ndcg", "rmse", "precision", "recall")
    return tuple(
        {"Name": f"{channel}:{m}", "Regex": rf".*\[[0-9]+\].*#011{channel}-{m}:{_NUMBER}.*"}
        for channel in ("train", "validation")
        for m in names
    )


_ALGORITHMS_DIR = Path(__file__).resolve().parent / "algorithms"
# Image URI patterns of SageMaker's own algorithm images (any account and region).
BUILTIN_ALGORITHMS: dict[str, BuiltinAlgorithm] = {
    "*.dkr.ecr.*.amazonaws.com*/sagemaker-xgboost:*": BuiltinAlgorithm(
        "xgboost", _ALGORITHMS_DIR / "xgboost_algorithm.py", _xgboost_metrics()
    ),
}


def builtin_algorithm(image_uri: str | None) -> BuiltinAlgorithm | None:
    """The built-in algorithm an image runs without a script, or None for other images."""
    if not image_uri:
        return None
    for pattern, algorithm in BUILTIN_ALGORITHMS.items():
        if fnmatch.fnmatchcase(image_uri, pattern):
            return algorithm
    return None
