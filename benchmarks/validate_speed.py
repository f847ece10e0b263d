"""How fast `smsim validate` checks our own steps (target: well under a second).

Measured in one process:

- ``cold``: the first full validation (all four levels), including loading
  botocore's SageMaker model and importing the specs — what one
  ``smsim validate`` run pays after Python has started;
- ``warm``: the median of further full validations;
- ``baseline``: the median time to merely read and ``ast.parse`` every source
  file level 1 analyses (the entry scripts and the local modules they import)
  — the floor any static check of these scripts pays.

The figure that matters is ``cold`` (seconds); ``warm / baseline`` says how
much the symbolic analysis, the resolver and the property-path checks add
on top of parsing. Run: ``.venv/bin/python benchmarks/validate_speed.py [--json]``.
"""

from __future__ import annotations

import ast
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _full_validation() -> Any:
    from simulator.alignment import builtin_project, validate_project

    return validate_project(builtin_project())


def _analysed_files() -> list[Path]:
    from simulator.alignment import builtin_project
    from simulator.alignment.script_ast import analyse_script

    project = builtin_project()
    files: list[Path] = []
    for contract in project.contracts:
        script, _ = project.find_script(contract)
        if script is not None:
            files += analyse_script(script, contract.job_type).files
    return files


def _parse_all(files: list[Path]) -> None:
    for path in files:
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _median(func: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(repeat: int = 7) -> dict[str, Any]:
    """Measure and return the figures (seconds and the ratio)."""
    start = time.perf_counter()
    report = _full_validation()
    cold = time.perf_counter() - start
    warm = _median(_full_validation, repeat)
    files = _analysed_files()
    baseline = _median(lambda: _parse_all(files), repeat)
    return {
        "benchmark": "validate_speed",
        "steps": len(report.steps),
        "files_analysed": len(files),
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "cold_seconds": round(cold, 4),
        "warm_seconds": round(warm, 4),
        "baseline_parse_seconds": round(baseline, 4),
        "warm_over_baseline": round(warm / baseline, 2) if baseline else None,
        "target": "cold_seconds < 1.0",
        "meets_target": cold < 1.0,
    }


def main() -> None:
    result = run()
    if "--json" in sys.argv[1:]:
        print(json.dumps(result, indent=2))
        return
    print(
        f"smsim validate, our {result['steps']} steps ({result['files_analysed']} files analysed): "
        f"cold {result['cold_seconds'] * 1000:.0f} ms, warm {result['warm_seconds'] * 1000:.0f} ms "
        f"= {result['warm_over_baseline']}x the time to parse those files "
        f"({result['baseline_parse_seconds'] * 1000:.1f} ms); target cold < 1 s: "
        f"{'met' if result['meets_target'] else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
