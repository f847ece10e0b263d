"""An instance type → the Ray resources one host of that type asks for (#19).

The Ray backend runs each host of a job as one Ray actor that requests its instance
type's capacity, so a cluster runs as many hosts at once as it holds. The instance
types are those botocore's SageMaker model allows for training and processing (the
``TrainingInstanceType`` and ``ProcessingInstanceType`` enums); each maps to
``{"num_cpus": float, "num_gpus": float, "memory": int (bytes)}`` by these rules:

- vCPUs from the size: ``medium`` 1, ``large`` 2, ``xlarge`` 4, ``Nxlarge`` 4·N,
  ``metal`` the family's largest size (EC2's naming; t3.medium's 2 burstable vCPUs at
  a 20 % baseline count as 1).
- memory per vCPU by the family's letter: c 2 GiB, m and t 4 GiB, r 8 GiB, x 16 GiB.
- GPU (g, p) and Trainium (trn) families: an explicit table of GPUs and memory per
  size from AWS's instance pages (vCPUs still from the size). Trainium chips are no
  CUDA GPUs: 0 GPUs.
- CPU types the two rules miss (c4, c5n): listed with AWS's figures.

Overrides, per instance type (``{"ml.m5.xlarge": {"num_cpus": 1, "memory": "2GiB"}}``),
replace any of the three figures; :func:`load_overrides` reads them from a mapping, a
JSON string, a JSON file's path or ``$SMSIM_RAY_RESOURCES``.

``python -m simulator.hosts.ray_resources --markdown`` prints the table README.md shows.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import re
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from simulator.errors import Problem, ValidationError
from simulator.shapes import enum_values

GiB = 1024**3
ENV = "SMSIM_RAY_RESOURCES"
FIELDS = ("num_cpus", "num_gpus", "memory")
INSTANCE_ENUMS = ("TrainingInstanceType", "ProcessingInstanceType")

MEMORY_PER_VCPU_GIB = {"c": 2, "m": 4, "t": 4, "r": 8, "x": 16}

# (GPUs, memory GiB) per size of the accelerated families. Sources: AWS's EC2 instance
# type pages as quoted in the AWS Batch "GPU jobs" guide (g4dn, g5, g6), the P2/P3 launch
# tables, torchx's AWS named resources (p3dn, p4d, p4de, p5.48xlarge, p5e, p5en, g6e,
# trn1) and the ROSA instance list (p6-b200); UNCONFIRMED marks those not found there.
ACCELERATED: dict[str, dict[str, tuple[int, float]]] = {
    "p2": {"xlarge": (1, 61), "8xlarge": (8, 488), "16xlarge": (16, 732)},
    "p3": {"2xlarge": (1, 61), "8xlarge": (4, 244), "16xlarge": (8, 488)},
    "p3dn": {"24xlarge": (8, 768)},
    "p4d": {"24xlarge": (8, 1152)},
    "p4de": {"24xlarge": (8, 1152)},
    "p5": {"4xlarge": (1, 256), "48xlarge": (8, 2048)},
    "p5e": {"48xlarge": (8, 2048)},
    "p5en": {"48xlarge": (8, 2048)},
    "p6-b200": {"48xlarge": (8, 2048)},
    "p6-b300": {"48xlarge": (8, 4096)},
    "p6e-gb200": {"36xlarge": (4, 960)},
    **{
        family: {
            "xlarge": (1, 16),
            "2xlarge": (1, 32),
            "4xlarge": (1, 64),
            "8xlarge": (1, 128),
            "12xlarge": (4, 192),
            "16xlarge": (1, 256),
            "24xlarge": (4, 384),
            "48xlarge": (8, 768),
        }
        for family in ("g4dn", "g5", "g6")  # g4dn has no 24xlarge/48xlarge: unused
    },
    "g6e": {
        "xlarge": (1, 32),
        "2xlarge": (1, 64),
        "4xlarge": (1, 128),
        "8xlarge": (1, 256),
        "12xlarge": (4, 384),
        "16xlarge": (1, 512),
        "24xlarge": (4, 768),
        "48xlarge": (8, 1536),
    },
    **{
        family: {
            "2xlarge": (1, 8 * per_vcpu),
            "4xlarge": (1, 16 * per_vcpu),
            "8xlarge": (1, 32 * per_vcpu),
            "12xlarge": (2, 48 * per_vcpu),
            "24xlarge": (4, 96 * per_vcpu),
            "48xlarge": (8, 192 * per_vcpu),
        }
        for family, per_vcpu in (("g7", 4), ("g7e", 8))
    },
    "trn1": {"2xlarge": (0, 32), "32xlarge": (0, 512)},
    "trn1n": {"32xlarge": (0, 512)},
    "trn2": {"48xlarge": (0, 2048)},
}
UNCONFIRMED = {"p5.4xlarge", "p6-b300", "p6e-gb200", "g7", "g7e", "trn1n", "trn2"}

# (vCPUs, memory GiB) of CPU types the rules miss, from AWS's C4 and C5n pages.
CPU_EXCEPTIONS: dict[str, tuple[int, float]] = {
    "c4.xlarge": (4, 7.5),
    "c4.2xlarge": (8, 15),
    "c4.4xlarge": (16, 30),
    "c4.8xlarge": (36, 60),
    "c5n.xlarge": (4, 10.5),
    "c5n.2xlarge": (8, 21),
    "c5n.4xlarge": (16, 42),
    "c5n.9xlarge": (36, 96),
    "c5n.18xlarge": (72, 192),
}

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS |= {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}


@cache
def instance_types() -> tuple[str, ...]:
    """Every instance type SageMaker trains or processes on, per botocore, sorted."""
    return tuple(sorted({t for enum in INSTANCE_ENUMS for t in enum_values(enum)}))


def ray_resources(
    instance_type: str, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """One host's Ray resource request: ``{"num_cpus", "num_gpus", "memory"}``.

    ``overrides`` (as :func:`load_overrides` takes them) replace the table's figures for
    the types they name. Raises ValidationError for a type botocore does not list or a
    bad override.
    """
    chosen = load_overrides(overrides, "overrides").get(instance_type, {}) if overrides else {}
    resources = _table().get(instance_type)
    if resources is None and instance_type in instance_types() and len(chosen) == len(FIELDS):
        return chosen  # a type botocore lists but the rules do not cover, fully overridden
    if resources is None:
        if instance_type in instance_types():
            fix = f"give it an override with all of {', '.join(FIELDS)} (${ENV})"
            problem = Problem("InstanceType", "no Ray resource figures for", instance_type, fix)
        else:
            problem = _unknown_type("InstanceType", instance_type, "an instance type")
        raise ValidationError("Ray resources", [problem])
    return {**resources, **chosen}


def load_overrides(
    value: Mapping[str, Any] | str | os.PathLike[str] | None = None, source: str = ""
) -> dict[str, dict[str, Any]]:
    """Per-type overrides from a mapping, a JSON object string or a JSON file's path;
    ``None`` reads ``$SMSIM_RAY_RESOURCES`` (unset or empty: no overrides).

    Each entry maps an instance type to any of ``num_cpus`` and ``num_gpus`` (numbers
    >= 0) and ``memory`` (bytes, or a string such as ``"2GiB"`` or ``"512MB"``). Returns
    them checked, ``memory`` in bytes; raises ValidationError naming each bad entry.
    """
    if value is None:
        value, source = os.environ.get(ENV, ""), source or f"${ENV}"
        if not value.strip():
            return {}
    source = source or "Ray resource overrides"
    raw = _parse(value, source)
    problems: list[Problem] = []
    checked: dict[str, dict[str, Any]] = {}
    for instance_type, entry in raw.items():
        path = f"{source}.{instance_type}"
        if instance_type not in instance_types():
            problems.append(_unknown_type(path, instance_type, "an override's key"))
            continue
        if not isinstance(entry, Mapping):
            fix = 'give an object such as {"num_cpus": 2, "memory": "8GiB"}'
            problems.append(Problem(path, "must be an object of Ray resources", entry, fix))
            continue
        checked[instance_type] = {}
        for key, given in entry.items():
            figure = _figure(f"{path}.{key}", key, given, problems)
            if figure is not None:
                checked[instance_type][key] = figure
    if problems:
        raise ValidationError(f"Ray resource overrides ({source})", problems)
    return checked


def _parse(value: Mapping[str, Any] | str | os.PathLike[str], source: str) -> Mapping[str, Any]:
    fix = 'give a JSON object such as {"ml.m5.xlarge": {"num_cpus": 2}} or a path to one'
    if isinstance(value, Mapping):
        raw: Any = value
    elif isinstance(value, str | os.PathLike):
        text = os.fspath(value).strip()
        if not text.startswith(("{", "[")):  # else a file path
            try:
                text = Path(text).read_text()
            except OSError as exc:
                problem = Problem(source, f"not a JSON object nor a readable file ({exc})")
                raise ValidationError("Ray resource overrides", [problem]) from exc
        try:
            raw = json.loads(text)
        except ValueError as exc:
            problem = Problem(source, f"not valid JSON: {exc}", fix=fix)
            raise ValidationError("Ray resource overrides", [problem]) from exc
    else:
        raw = value
    if not isinstance(raw, Mapping):
        problem = Problem(source, "must map instance types to resources", raw, fix)
        raise ValidationError("Ray resource overrides", [problem])
    return raw


def _figure(path: str, key: str, given: Any, problems: list[Problem]) -> float | int | None:
    """One override figure checked (``memory`` to bytes); None after adding a problem."""
    if key not in FIELDS:
        fix = f"use {', '.join(FIELDS)}"
        problems.append(Problem(path, "not a Ray resource smsim requests", key, fix))
        return None
    if key == "memory":
        size = memory_bytes(given)
        if size is None:
            fix = 'give bytes (an integer) or a size such as "16GiB", "512MiB", "8GB"'
            problems.append(Problem(path, "not a memory size", given, fix))
        return size
    number_ok = isinstance(given, int | float) and not isinstance(given, bool)
    if not number_ok or not math.isfinite(given) or given < 0:
        problems.append(Problem(path, "must be a number >= 0", given, f"e.g. {key}: 2"))
        return None
    return float(given)


def memory_bytes(value: Any) -> int | None:
    """Bytes of ``value``: an integer >= 0, or a size string (``"2GiB"``, ``"500MB"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _MEMORY.match(value)
    if match is None:
        return None
    unit = (match.group(2) or "B").upper()
    return int(float(match.group(1)) * _UNITS[unit])


def _unknown_type(path: str, value: str, what: str) -> Problem:
    close = difflib.get_close_matches(str(value), instance_types(), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    fix = f"use one of botocore's {' / '.join(INSTANCE_ENUMS)} values{hint}"
    return Problem(path, f"{what} SageMaker does not train or process on", value, fix)


@cache
def _table() -> dict[str, dict[str, Any]]:
    """Each instance type's resources by the rules in the module docstring; a type that a
    newer botocore adds and no rule covers is left out (see :func:`uncovered_types`)."""
    sizes: dict[str, list[str]] = {}
    for name in instance_types():
        _, family, size = name.split(".", 2)
        sizes.setdefault(family, []).append(size)
    table = {}
    for name in instance_types():
        _, family, size = name.split(".", 2)
        try:
            cpus, gpus, gib = _figures(family, size, sizes[family])
        except KeyError:
            continue
        table[name] = {"num_cpus": float(cpus), "num_gpus": float(gpus), "memory": int(gib * GiB)}
    return table


def uncovered_types() -> list[str]:
    """The instance types botocore lists that no rule covers (none for botocore 1.44.8)."""
    return [t for t in instance_types() if t not in _table()]


def _figures(family: str, size: str, family_sizes: list[str]) -> tuple[int, int, float]:
    """(vCPUs, GPUs, memory GiB) of ``ml.<family>.<size>``."""
    if size == "metal":  # the whole machine: the family's largest size
        size = max((s for s in family_sizes if s != "metal"), key=_vcpus)
    cpus = _vcpus(size)
    if f"{family}.{size}" in CPU_EXCEPTIONS:
        cpus, gib = CPU_EXCEPTIONS[f"{family}.{size}"]
        return cpus, 0, gib
    if family in ACCELERATED:
        if size not in ACCELERATED[family]:
            raise KeyError(f"ml.{family}.{size}: no row in ACCELERATED for this size")
        gpus, gib = ACCELERATED[family][size]
        return cpus, gpus, gib
    letter = re.match(r"[a-z]+", family).group(0)  # type: ignore[union-attr]
    if letter not in MEMORY_PER_VCPU_GIB:
        raise KeyError(f"ml.{family}.{size}: no memory rule for family letter {letter!r}")
    return cpus, 0, cpus * MEMORY_PER_VCPU_GIB[letter]


def _vcpus(size: str) -> int:
    named = {"medium": 1, "large": 2, "xlarge": 4}
    if size in named:
        return named[size]
    match = re.fullmatch(r"(\d+)xlarge", size)
    if match is None:
        raise KeyError(f"instance size {size!r}: no vCPU rule")
    return 4 * int(match.group(1))


def markdown_table() -> str:
    """The table README.md shows: one row per family, each size's vCPUs / GiB / GPUs."""
    families: dict[str, list[str]] = {}
    for name, res in _table().items():
        _, family, size = name.split(".", 2)
        cell = f"{size} {res['num_cpus']:g}/{res['memory'] / GiB:g}"
        cell += f"/{res['num_gpus']:g}" if res["num_gpus"] else ""
        families.setdefault(family, []).append((res["num_cpus"], cell))
    lines = ["| Family | Sizes: vCPUs/GiB[/GPUs] | Rule |", "| --- | --- | --- |"]
    for family in sorted(families, key=_family_order):
        cells = " · ".join(cell for _, cell in sorted(families[family]))
        lines.append(f"| ml.{family} | {cells} | {_rule(family)} |")
    return "\n".join(lines) + "\n"


def _family_order(family: str) -> tuple[str, int, str]:
    letter = re.match(r"[a-z]+", family).group(0)  # type: ignore[union-attr]
    generation = re.match(r"[a-z]+(\d+)", family)
    return letter, int(generation.group(1)) if generation else 0, family


def _rule(family: str) -> str:
    if family in UNCONFIRMED:
        return "estimate (not confirmed from AWS's pages): override if yours differ"
    if family in ACCELERATED:
        guessed = sorted(f"ml.{t}" for t in UNCONFIRMED if t.startswith(f"{family}."))
        return "AWS figures" + (f"; {', '.join(guessed)} an estimate" if guessed else "")
    if any(t.startswith(f"{family}.") for t in CPU_EXCEPTIONS):
        return "AWS figures"
    letter = re.match(r"[a-z]+", family).group(0)  # type: ignore[union-attr]
    return f"{MEMORY_PER_VCPU_GIB[letter]:g} GiB per vCPU"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true", help="the README table")
    parser.add_argument("--overrides", help="JSON object or file (default $SMSIM_RAY_RESOURCES)")
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(markdown_table())
        return 0
    overrides = load_overrides(args.overrides)
    table = {t: ray_resources(t, overrides) for t in instance_types()}
    print(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def bundle_of(resources: dict[str, Any]) -> dict[str, float]:
    """One host's placement-group bundle from ``ray_resources``' keys (zero GPUs or memory
    are left out: a bundle holds only what it asks for)."""
    bundle = {"CPU": float(resources.get("num_cpus") or 0)}
    if resources.get("num_gpus"):
        bundle["GPU"] = float(resources["num_gpus"])
    if resources.get("memory"):
        bundle["memory"] = float(resources["memory"])
    return bundle


def fits(total: dict[str, float], bundle: dict[str, float]) -> bool:
    return all(total.get(k, 0.0) >= v for k, v in bundle.items())


def show(resources: dict[str, Any]) -> str:
    parts = []
    for key in ("CPU", "GPU", "memory"):
        value = resources.get(key)
        if value:
            parts.append(
                f"{value / 2**30:.1f} GiB memory" if key == "memory" else f"{value:g} {key}"
            )
    return ", ".join(parts) or "no resources"
