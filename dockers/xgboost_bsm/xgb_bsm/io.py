"""Reading a SageMaker channel: every csv, tsv or parquet file under it, any depth."""

from __future__ import annotations

import os

import pandas as pd

SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


def table_files(directory: str) -> list[str]:
    """Data files under ``directory`` (recursively, sorted; hidden files skipped)."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in SUFFIXES:
                found.append(os.path.join(root, name))
    return found


def read_table(path: str) -> pd.DataFrame:
    kind = SUFFIXES[os.path.splitext(path)[1].lower()]
    if kind == "parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if kind == "tsv" else ",")


def read_channel(directory: str, channel: str) -> pd.DataFrame:
    """All part files of one channel concatenated, in sorted path order."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"channel {channel!r} not found at {directory}; add a {channel!r} channel to "
            "InputDataConfig"
        )
    files = table_files(directory)
    if not files:
        raise FileNotFoundError(
            f"channel {channel!r} at {directory} holds no .csv, .tsv or .parquet file"
        )
    frames = [read_table(path) for path in files]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if frame.empty:
        raise ValueError(f"channel {channel!r} at {directory} holds no data rows")
    return frame
