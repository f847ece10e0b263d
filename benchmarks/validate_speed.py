"""How fast `smsim validate` checks our own steps (target: well under a second).

Measured in one process:

- ``cold``: the first full validation (all four levels), including loading
  botocore's SageMaker model and importing the specs — what one
  ``smsim validate`` run pays after Python has started;
- ``warm``: the median of further full validations;
- ``baseline``: the median time to merely read and ``ast.parse`` every source
  file level 1 analyses (the entry scripts and the local modules they import)
  — the floor any static check of these scripts pays.

Every figure is CPU time of this process (``time.process_time``): on a
shared 2-core machine wall time measures the neighbours as much as smsim.
The figure that matters is ``cold`` (seconds); ``warm / baseline`` says how
much the symbolic analysis, the resolver and the property-path checks add
on top of parsing.

Start-up of the command line, in fresh processes: the CPU time (user + system,
steadier than wall time on a shared machine) of ``smsim --help``, of
``smsim paths check`` on one path and of a whole ``smsim validate``, each over
that of a bare ``python -c "import click"`` (the floor of any click program).
Command modules load on use, so ``smsim validate`` loads neither pandas nor moto.

Run: ``.venv/bin/python benchmarks/validate_speed.py [--json]``.
"""

from __future__ import annotations

import ast
import json
import resource
import statistics
import subprocess
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
        start = time.process_time()
        func()
        times.append(time.process_time() - start)
    return statistics.median(times)


_CLI = "import sys; from simulator.cli import main; sys.argv[0] = 'smsim'; main()"
_COMMANDS: dict[str, list[str]] = {
    "baseline_import_click": ["-c", "import click"],
    "help": ["-c", _CLI, "--help"],
    "paths_check": ["-c", _CLI, "paths", "check", "--step-type", "Training", "properties.X"],
    "validate": ["-c", _CLI, "validate"],
}


def _child_cpu_seconds(args: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def startup(repeat: int = 5) -> dict[str, float]:
    """Median CPU seconds of each command in a fresh process, runs interleaved."""
    times: dict[str, list[float]] = {name: [] for name in _COMMANDS}
    for _ in range(repeat):
        for name, args in _COMMANDS.items():
            times[name].append(_child_cpu_seconds(args))
    return {name: round(statistics.median(values), 3) for name, values in times.items()}


def run(repeat: int = 7) -> dict[str, Any]:
    """Measure and return the figures (seconds and the ratio)."""
    start = time.process_time()
    report = _full_validation()
    cold = time.process_time() - start
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
        "startup_cpu_seconds": (cli := startup()),
        "startup_over_baseline": {
            name: round(value / cli["baseline_import_click"], 2)
            for name, value in cli.items()
            if name != "baseline_import_click"
        },
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
    cli = result["startup_cpu_seconds"]
    print(
        "CLI start-up, CPU seconds in a fresh process: "
        + ", ".join(f"{name} {value:.2f}" for name, value in cli.items())
        + " (ratios to `import click`: "
        + ", ".join(f"{k} {v}x" for k, v in result["startup_over_baseline"].items())
        + ")"
    )


if __name__ == "__main__":
    main()
