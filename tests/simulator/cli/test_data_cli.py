"""`smsim data synth` through the real console entry point's click group."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

SYNTH = ("data", "synth")


def test_synth_json_output_and_files(tmp_path, cli):
    out = tmp_path / "bsm"
    result = cli(*SYNTH, "--rows", 100, "--seed", 9, "--out", out, "--format", "parquet", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["counts"] == {"train": 70, "val": 15, "test": 15}
    assert len(pd.read_parquet(out / "val" / "val.parquet")) == 15
    assert json.loads((out / "hyperparameters.json").read_text())["model_class"] == "multimodal_cnn"


def test_synth_table_output_is_deterministic(tmp_path, cli):
    for name in ("a", "b"):
        result = cli(*SYNTH, "--rows", 40, "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
        assert "train" in result.output and "28" in result.output
    assert (tmp_path / "a/train/train.csv").read_bytes() == (
        tmp_path / "b/train/train.csv"
    ).read_bytes()


def test_synth_rejects_bad_format_and_rows(tmp_path, cli):
    bad_format = cli(*SYNTH, "--out", tmp_path, "--format", "xlsx")
    assert bad_format.exit_code == 2 and "xlsx" in bad_format.output
    bad_rows = cli(*SYNTH, "--out", tmp_path, "--rows", 3)
    assert bad_rows.exit_code == 2 and "--rows" in bad_rows.output


def test_unwritable_out_is_an_error_naming_the_option(tmp_path, cli):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = str(blocker / "bsm")
    as_json = cli(*SYNTH, "--rows", 20, "--out", out, "--json")
    assert as_json.exit_code == 2
    error = json.loads(as_json.stdout)["error"]
    assert error.startswith(f"--out {out}:") and "Not a directory" in error
    plain = cli(*SYNTH, "--rows", 20, "--out", out)
    assert plain.exit_code == 2 and "choose a writable directory" in plain.output
    assert "Traceback" not in plain.output
    negative = cli(*SYNTH, "--out", tmp_path, "--seed", -1)
    assert negative.exit_code == 2 and "--seed" in negative.output


def test_loading_the_cli_does_not_import_pandas():
    """`smsim --help` and every other command must not pay ~0.35 s for pandas and numpy."""
    code = (
        "import sys\n"
        "from simulator.cli import main\n"
        "for args in (['--help'], ['data', '--help'], ['data', 'synth', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'pyarrow') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_format_choices_are_the_datasets_formats():
    from simulator import datasets
    from simulator.cli import data

    assert data.FORMATS == datasets.FORMATS
