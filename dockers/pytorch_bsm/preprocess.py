"""TabularPreprocessing: raw BSM files → a stratified, seeded train/val/test split.

Runs as a SageMaker processing job (``python3 preprocess.py --job_type training``).
Self-contained on purpose: the SageMaker SDK ships a processing script as a
single file (``code=preprocess.py``), so this imports nothing from ``bsm/``.

- input: every .csv / .tsv / .parquet file under processing/input/data, any depth;
- output: processing/output/{train,val,test}/<split>.<ext> (the ``processed_data``
  output's LocalPath is processing/output), in the input's format (csv when mixed);
  and the test split again as processing/output/batch/test.csv: CSV without a header
  line, the label last, for a batch transform (SplitType Line: every line a record);
- env: LABEL_FIELD (default "label"), TRAIN_RATIO (share of rows in train, default
  0.7), TEST_VAL_RATIO (share of the remaining rows that go to test, default 0.5);
- ``--job_type training`` splits; any other job type (validation, testing,
  calibration) copies all rows to processing/output/<job_type>/ unsplit;
- on error the reason goes to output/message (DescribeProcessingJob's ExitMessage),
  and to stderr, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

import numpy as np
import pandas as pd

# --- Container paths (smsim sets SAGEMAKER_BASE_DIR for processing jobs too) ---
BASE_DIR = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
INPUT_DATA_DIR = os.path.join(BASE_DIR, "processing", "input", "data")
OUTPUT_DIR = os.path.join(BASE_DIR, "processing", "output")
MESSAGE_PATH = os.path.join(BASE_DIR, "output", "message")

# --- Environment (contract: all optional) ---
LABEL_FIELD = os.environ.get("LABEL_FIELD", "label")
TRAIN_RATIO = os.environ.get("TRAIN_RATIO", "0.7")
TEST_VAL_RATIO = os.environ.get("TEST_VAL_RATIO", "0.5")

SPLIT_SEED = 42
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


def parse_ratio(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise ValueError(
            f"environment variable {name} must be a number strictly between 0 and 1, "
            f"got {raw!r}; set it in the processing job's Environment"
        )
    return value


def find_files(directory: str) -> list[str]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in SUFFIXES:
                found.append(os.path.join(root, name))
    return found


def read_file(path: str) -> pd.DataFrame:
    kind = SUFFIXES[os.path.splitext(path)[1].lower()]
    if kind == "parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if kind == "tsv" else ",")


def write_file(frame: pd.DataFrame, path: str, kind: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if kind == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, sep="\t" if kind == "tsv" else ",")


def stratified_split(
    labels: pd.Series, train_ratio: float, test_share: float, seed: int
) -> dict[str, np.ndarray]:
    """Row positions of train/val/test, each class split with the same ratios."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    codes = labels.astype(str).to_numpy()
    for value in sorted(set(codes)):
        rows = rng.permutation(np.flatnonzero(codes == value))
        n_train = int(round(len(rows) * train_ratio))
        rest = rows[n_train:]
        n_test = int(round(len(rest) * test_share))
        parts["train"].append(rows[:n_train])
        parts["test"].append(rest[:n_test])
        parts["val"].append(rest[n_test:])
    # Sorted positions keep the input's row order inside each split.
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="Split raw BSM data into train/val/test.")
    parser.add_argument(
        "--job_type",
        default="training",
        help="training: stratified split; validation/testing/calibration: copy unsplit",
    )
    args = parser.parse_args(argv)
    train_ratio = parse_ratio("TRAIN_RATIO", TRAIN_RATIO)
    test_share = parse_ratio("TEST_VAL_RATIO", TEST_VAL_RATIO)

    files = find_files(INPUT_DATA_DIR)
    if not files:
        raise FileNotFoundError(
            f"no .csv, .tsv or .parquet file under {INPUT_DATA_DIR}; check the DATA "
            "ProcessingInput's S3Uri"
        )
    kinds = {SUFFIXES[os.path.splitext(f)[1].lower()] for f in files}
    kind = kinds.pop() if len(kinds) == 1 else "csv"
    frame = pd.concat([read_file(f) for f in files], ignore_index=True)
    print(f"read {len(frame)} rows from {len(files)} file(s) ({kind})", flush=True)
    if LABEL_FIELD not in frame.columns:
        raise ValueError(
            f"label column {LABEL_FIELD!r} (environment variable LABEL_FIELD) not in the "
            f"data; columns: {', '.join(map(str, frame.columns))}"
        )
    missing = frame[LABEL_FIELD].isna()
    if missing.any():
        print(f"dropping {int(missing.sum())} row(s) without a {LABEL_FIELD!r} value", flush=True)
        frame = frame[~missing].reset_index(drop=True)
    if frame.empty:
        raise ValueError(
            f"no data rows with a {LABEL_FIELD!r} value in {len(files)} file(s) under "
            f"{INPUT_DATA_DIR}; check the DATA ProcessingInput's S3Uri"
        )

    if args.job_type == "training":
        splits = stratified_split(frame[LABEL_FIELD], train_ratio, test_share, SPLIT_SEED)
    else:
        splits = {args.job_type: np.arange(len(frame))}
    ext = {"csv": "csv", "tsv": "tsv", "parquet": "parquet"}[kind]
    for name, rows in splits.items():
        part = frame.iloc[rows].reset_index(drop=True)
        write_file(part, os.path.join(OUTPUT_DIR, name, f"{name}.{ext}"), kind)
        balance = part[LABEL_FIELD].astype(str).value_counts().sort_index().to_dict()
        print(f"split={name} rows={len(part)} classes={balance}", flush=True)
        if name == "test":
            write_batch_records(part, os.path.join(OUTPUT_DIR, "batch", "test.csv"))


def write_batch_records(part: pd.DataFrame, path: str) -> None:
    """The rows as a transform job reads them: no header, features then the label."""
    columns = [c for c in part.columns if c != LABEL_FIELD] + [LABEL_FIELD]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    part[columns].to_csv(path, index=False, header=False)


def fail(exc: BaseException) -> None:
    """Processing jobs report the first 1 KB of output/message as ExitMessage."""
    traceback.print_exc(file=sys.stderr)
    reason = f"{type(exc).__name__}: {exc}"
    print(reason, file=sys.stderr, flush=True)
    try:
        os.makedirs(os.path.dirname(MESSAGE_PATH), exist_ok=True)
        with open(MESSAGE_PATH, "w", encoding="utf-8") as handle:
            handle.write(reason)
    except OSError as write_error:
        print(f"could not write {MESSAGE_PATH}: {write_error}", file=sys.stderr)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Exception as error:  # every failure must be reported
        fail(error)
        sys.exit(1)
