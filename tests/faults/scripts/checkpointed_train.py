"""A tiny deterministic training script that checkpoints every epoch and resumes from
its checkpoints (the pattern SageMaker's Spot training and restarts need).

Least squares by gradient descent in numpy: the same epochs give the same bits, so a run
resumed from a checkpoint ends with the weights an uninterrupted run ends with.
"""

import argparse
import os
import time

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=4)
parser.add_argument("--epoch-seconds", type=float, default=1.0)
args = parser.parse_args()

checkpoints = os.environ["SM_CHECKPOINT_DIR"]
state_file = os.path.join(checkpoints, "state.npz")

x = np.linspace(-1.0, 1.0, 200).reshape(50, 4)
y = x @ np.array([1.5, -2.0, 0.25, 3.0]) + 0.1 * np.sin(np.arange(50))

weights, first_epoch = np.zeros(4), 0
if os.path.exists(state_file):
    state = np.load(state_file)
    weights, first_epoch = state["weights"], int(state["epoch"])
    print(f"resumed at epoch {first_epoch}", flush=True)

for epoch in range(first_epoch, args.epochs):
    print(f"epoch {epoch} start", flush=True)
    for _ in range(10):
        weights = weights - 0.05 * (2.0 / len(x)) * x.T @ (x @ weights - y)
    time.sleep(args.epoch_seconds)  # the epoch's work, long enough to be interrupted in
    # Written aside then renamed: a checkpoint is whole or absent, never half-written.
    np.savez(state_file + ".tmp.npz", weights=weights, epoch=epoch + 1)
    os.replace(state_file + ".tmp.npz", state_file)
    loss = float(np.mean((x @ weights - y) ** 2))
    print(f"epoch {epoch} done loss={loss:.6f}", flush=True)

np.save(os.path.join(os.environ["SM_MODEL_DIR"], "weights.npy"), weights)
