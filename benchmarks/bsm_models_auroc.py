"""Test AUROC of the two BSM trainers over five data seeds (the figures in README).

    .venv/bin/python benchmarks/bsm_models_auroc.py [--rows 3000] [--seeds 0 1 2 3 4]

For each seed: ``smsim data synth``'s rows (simulator.datasets.write_dataset, 70/15/15
split), then dockers/pytorch_bsm/train.py (multimodal_cnn, 3 epochs, lr 0.01) and
dockers/xgboost_bsm/xgboost_train.py (its defaults) on the same split, each as a job
would run it (a subprocess with SAGEMAKER_BASE_DIR); the test AUROC is read from each
script's own metrics.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRAINERS = {
    "pytorch": (
        REPO / "dockers" / "pytorch_bsm",
        "train.py",
        {"max_epochs": 3, "model_class": "multimodal_cnn", "lr": 0.01, "export_onnx": False},
    ),
    "xgboost": (REPO / "dockers" / "xgboost_bsm", "xgboost_train.py", {}),
}


def test_auroc(trainer: str, data: Path, work: Path, seed: int) -> float:
    code, script, hps = TRAINERS[trainer]
    base = work / trainer
    shutil.copytree(data, base / "input" / "data", ignore=shutil.ignore_patterns("*.json"))
    (base / "input" / "config").mkdir(parents=True)
    encoded = {k: json.dumps(v) for k, v in {**hps, "seed": seed}.items()}
    (base / "input" / "config" / "hyperparameters.json").write_text(json.dumps(encoded))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEMAKER_"))}
    env["SAGEMAKER_BASE_DIR"] = str(base)
    proc = subprocess.run(
        [sys.executable, script], cwd=code, env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"{trainer} seed {seed} failed:\n{proc.stderr[-2000:]}")
    metrics = json.loads((base / "output" / "data" / "metrics.json").read_text())
    return float(metrics["test"]["auroc"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from simulator.datasets import write_dataset

    results: dict[str, list[float]] = {name: [] for name in TRAINERS}
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="bsm-auroc-") as tmp:
            data = Path(tmp) / "data"
            write_dataset(data, args.rows, seed=seed)
            row = {name: test_auroc(name, data, Path(tmp), seed) for name in TRAINERS}
        for name, value in row.items():
            results[name].append(value)
        print(f"seed {seed}: " + "  ".join(f"{n}={v:.4f}" for n, v in row.items()), flush=True)
    for name, values in results.items():
        mean = sum(values) / len(values)
        print(f"{name}: test AUROC {min(values):.3f}–{max(values):.3f} (mean {mean:.3f})")


if __name__ == "__main__":
    main()
