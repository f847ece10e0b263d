"""Samples/s of train.py's training loop against a minimal plain PyTorch loop.

Both loops train the same model class on the same pre-tokenized tensors with the
same batch size, optimizer and thread count, in one process, alternating
epochs so that machine load affects both alike. The figure of merit is the
ratio of medians, train.py / plain; the target is >= 0.9 (train.py's loop
adds only its seeded batch order, loss bookkeeping and zero_grad(set_to_none)).

    .venv/bin/python benchmarks/train_throughput.py [--rows 3000] [--epochs 5] [--json]

Exit status 1 when the ratio is below the target.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

CODE_DIR = Path(__file__).resolve().parents[1] / "dockers" / "pytorch_bsm"
TARGET = 0.9


def load_train_module():
    """train.py's training loop (bsm/loop.py, which train.py runs), with bsm/ importable."""
    sys.path.insert(0, str(CODE_DIR))
    from bsm import loop

    return loop


def plain_epoch(model, optimizer, criterion, tensors, batch_size: int, seed: int) -> None:
    ids, tab, cat, labels = tensors
    model.train()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        optimizer.zero_grad()
        criterion(model(ids[index], tab[index], cat[index]), labels[index]).backward()
        optimizer.step()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--model-class", default="multimodal_cnn")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    train = load_train_module()
    from bsm.data import encode_frame, fit_preprocessor
    from bsm.hyperparameters import parse_hyperparameters
    from bsm.models import build_model

    from simulator.datasets import generate

    torch.set_num_threads(args.threads)
    hp = parse_hyperparameters(
        {
            "model_class": json.dumps(args.model_class),
            "batch_size": str(args.batch_size),
            "max_epochs": str(args.epochs),
        }
    )
    frame = generate(args.rows, seed=0)
    state = fit_preprocessor(frame, hp)
    data = encode_frame(frame, state, "train")  # tokenized once, shared by both loops
    tensors = data.tensors()

    def fresh():
        torch.manual_seed(0)
        model = build_model(hp, state)
        return model, train.make_optimizer(hp, model), torch.nn.CrossEntropyLoss()

    ours, plain = fresh(), fresh()
    ours_rates, plain_rates = [], []
    # One warm-up epoch each, then alternate.
    train.train_one_epoch(*ours, data, hp, 0)
    plain_epoch(*plain, tensors, hp.batch_size, 0)
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        train.train_one_epoch(*ours, data, hp, epoch)
        ours_rates.append(len(data) / (time.perf_counter() - start))
        start = time.perf_counter()
        plain_epoch(*plain, tensors, hp.batch_size, epoch)
        plain_rates.append(len(data) / (time.perf_counter() - start))

    result = {
        "model_class": hp.model_class,
        "rows": len(data),
        "batch_size": hp.batch_size,
        "threads": args.threads,
        "epochs": args.epochs,
        "train_py_samples_per_s": round(statistics.median(ours_rates), 1),
        "plain_loop_samples_per_s": round(statistics.median(plain_rates), 1),
    }
    result["ratio"] = round(
        result["train_py_samples_per_s"] / result["plain_loop_samples_per_s"], 3
    )
    result["target"] = TARGET
    result["ok"] = result["ratio"] >= TARGET
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['model_class']}, {result['rows']} rows, batch {result['batch_size']}, "
            f"{result['threads']} thread(s)"
        )
        print(f"  train.py loop : {result['train_py_samples_per_s']:>9.1f} samples/s")
        print(f"  plain loop    : {result['plain_loop_samples_per_s']:>9.1f} samples/s")
        print(f"  ratio         : {result['ratio']:.3f} (target >= {TARGET})")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
