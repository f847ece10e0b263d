"""preprocess.py → train.py → evaluate.py chained as the SDK pipeline runs them."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pandas as pd
import pytest
import torch

from simulator.datasets import generate, write_dataset, write_frame

PROC = Path("processing")
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "sdk_pipeline_definition.json"


def _fixture() -> dict:
    return json.loads(FIXTURE.read_text())


def _fixture_hyperparameters() -> dict[str, str]:
    """The training step's HyperParameters with Parameters.Epochs at its default."""
    definition = _fixture()
    epochs = next(p for p in definition["Parameters"] if p["Name"] == "Epochs")["DefaultValue"]
    step = next(s for s in definition["Steps"] if s["Name"] == "PyTorchTraining")
    values = dict(step["Arguments"]["HyperParameters"])
    values["max_epochs"] = str(epochs)  # {"Std:Join": {"Values": [{"Get": Parameters.Epochs}]}}
    return values


@pytest.fixture(scope="module")
def chain(tmp_path_factory, bsm):
    """Raw data → preprocess → train (2 epochs) → model.tar.gz → evaluate."""
    root = tmp_path_factory.mktemp("chain")
    pre = root / "pre"
    write_dataset(pre / PROC / "input" / "data", 400, seed=21, split=False)
    pre_run = bsm.processing("preprocess.py", pre, "--job_type", "training")

    train = root / "train"
    (train / "input").mkdir(parents=True)
    shutil.copytree(pre / PROC / "output", train / "input" / "data")
    # Exactly the HyperParameters of the SDK pipeline (already SDK-encoded strings).
    config = train / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(_fixture_hyperparameters()))
    bsm.train(train, {}, check=True, raw_hyperparameters=True)

    ev = root / "eval"
    model_in = ev / PROC / "input" / "model"
    model_in.mkdir(parents=True)
    with tarfile.open(model_in / "model.tar.gz", "w:gz") as archive:
        for item in sorted((train / "model").iterdir()):  # SageMaker tars model/'s contents
            archive.add(item, arcname=item.name)
    shutil.copytree(pre / PROC / "output" / "test", ev / PROC / "input" / "eval_data")
    eval_run = bsm.processing("evaluate.py", ev)
    return {
        "root": root,
        "pre": pre,
        "train": train,
        "eval": ev,
        "pre_run": pre_run,
        "eval_run": eval_run,
    }


def test_preprocess_splits_stratified_and_complete(chain):
    out = chain["pre"] / PROC / "output"
    parts = {s: pd.read_csv(out / s / f"{s}.csv") for s in ("train", "val", "test")}
    assert [len(parts[s]) for s in ("train", "val", "test")] == [280, 60, 60]
    ids = pd.concat(parts.values())["order_id"]
    assert ids.is_unique and len(ids) == 400
    rates = [parts[s]["label"].mean() for s in parts]
    assert max(rates) - min(rates) < 0.03  # stratified: same positive rate in each split
    assert "split=train rows=280" in chain["pre_run"].stdout


def test_preprocess_is_seeded_and_honours_the_ratios(tmp_path, bsm):
    write_dataset(tmp_path / PROC / "input" / "data", 200, seed=2, split=False)
    bsm.processing("preprocess.py", tmp_path, TRAIN_RATIO="0.5", TEST_VAL_RATIO="0.2")
    out = tmp_path / PROC / "output"
    first = (out / "test" / "test.csv").read_bytes()
    assert len(pd.read_csv(out / "train" / "train.csv")) == 100
    assert len(pd.read_csv(out / "test" / "test.csv")) == 20
    assert len(pd.read_csv(out / "val" / "val.csv")) == 80
    bsm.processing("preprocess.py", tmp_path, TRAIN_RATIO="0.5", TEST_VAL_RATIO="0.2")
    assert (out / "test" / "test.csv").read_bytes() == first


def test_preprocess_reads_nested_parquet_and_keeps_the_format(tmp_path, bsm):
    frame = generate(120, seed=8)
    data = tmp_path / PROC / "input" / "data"
    write_frame(frame.iloc[:60], data / "2024" / "01" / "part-0.parquet", "parquet")
    write_frame(frame.iloc[60:], data / "2024" / "02" / "part-1.parquet", "parquet")
    bsm.processing("preprocess.py", tmp_path, "--job_type", "training")
    out = tmp_path / PROC / "output"
    total = sum(len(pd.read_parquet(out / s / f"{s}.parquet")) for s in ("train", "val", "test"))
    assert total == 120


def test_preprocess_non_training_job_type_copies_unsplit(tmp_path, bsm):
    write_dataset(tmp_path / PROC / "input" / "data", 50, seed=2, split=False)
    bsm.processing("preprocess.py", tmp_path, "--job_type", "calibration")
    assert len(pd.read_csv(tmp_path / PROC / "output/calibration/calibration.csv")) == 50


@pytest.mark.parametrize(
    ("env", "named"),
    [({"TRAIN_RATIO": "1.5"}, "TRAIN_RATIO"), ({"LABEL_FIELD": "is_claim"}, "is_claim")],
)
def test_preprocess_failure_is_reported_in_the_exit_message(tmp_path, bsm, env, named):
    write_dataset(tmp_path / PROC / "input" / "data", 30, seed=2, split=False)
    proc = bsm.processing("preprocess.py", tmp_path, check=False, **env)
    assert proc.returncode == 1
    assert named in (tmp_path / "output" / "message").read_text()
    assert named in proc.stderr


def test_preprocess_refuses_data_without_labelled_rows(tmp_path, bsm):
    frame = generate(20, seed=2).assign(label=float("nan"))
    write_frame(frame, tmp_path / PROC / "input/data/raw.csv", "csv")
    proc = bsm.processing("preprocess.py", tmp_path, check=False)
    assert proc.returncode == 1
    assert (
        "no data rows with a 'label' value in 1 file(s)"
        in (tmp_path / "output" / "message").read_text()
    )
    assert not (tmp_path / PROC / "output" / "train").exists()  # no empty splits left behind


def test_evaluation_json_is_the_pipelines_property_file(chain):
    report = json.loads((chain["eval"] / PROC / "output/metrics/evaluation.json").read_text())
    definition = _fixture()
    condition = next(s for s in definition["Steps"] if s["Type"] == "Condition")
    check = condition["Arguments"]["Conditions"][0]
    value = report
    for key in check["LeftValue"]["Std:JsonGet"]["Path"].split("."):
        value = value[key]
    threshold = next(p for p in definition["Parameters"] if p["Name"] == "AucThreshold")
    assert check["Type"] == "GreaterThanOrEqualTo"
    assert value >= threshold["DefaultValue"] + 0.15  # clears the pipeline's gate comfortably
    for name in ("auroc", "f1", "accuracy", "precision", "recall", "average_precision"):
        assert 0.0 <= report["metrics"][name]["value"] <= 1.0, name
    assert report["num_rows"] == 60 and report["classes"] == ["0", "1"]
    # The very path the SDK pipeline's condition reads (Std:JsonGet metrics.auroc.value).
    trained = json.loads((chain["train"] / "output/data/metrics.json").read_text())
    assert report["metrics"]["auroc"]["value"] == pytest.approx(trained["test"]["auroc"], abs=1e-6)


def test_evaluate_onnx_predictions_match_training_predictions(chain):
    predictions = pd.read_csv(chain["eval"] / PROC / "output/eval/predictions.csv")
    trained = torch.load(chain["train"] / "output/data/predict_results.pth", weights_only=True)
    assert predictions["order_id"].astype(str).tolist() == trained["test"]["ids"]
    got = torch.tensor(predictions[["prob_0", "prob_1"]].to_numpy(), dtype=torch.float32)
    assert (got - trained["test"]["probabilities"]).abs().max() <= 1e-4
    for plot in ("roc_curve.png", "pr_curve.png"):
        assert (chain["eval"] / PROC / "output/eval" / plot).stat().st_size > 0


def test_evaluate_without_model_fails_with_a_message(tmp_path, bsm):
    write_dataset(tmp_path / "d", 30, seed=1)
    shutil.copytree(tmp_path / "d" / "test", tmp_path / PROC / "input" / "eval_data")
    (tmp_path / PROC / "input" / "model").mkdir(parents=True)
    proc = bsm.processing("evaluate.py", tmp_path, check=False)
    assert proc.returncode == 1
    assert "model.tar.gz" in (tmp_path / "output" / "message").read_text()


def test_evaluate_refuses_a_tar_escaping_its_directory(tmp_path, bsm, chain):
    model_in = tmp_path / PROC / "input" / "model"
    model_in.mkdir(parents=True)
    evil = tmp_path / "evil.txt"
    evil.write_text("x")
    with tarfile.open(model_in / "model.tar.gz", "w:gz") as archive:
        archive.add(evil, arcname="../../escaped.txt")
    shutil.copytree(
        chain["eval"] / PROC / "input" / "eval_data", tmp_path / PROC / "input/eval_data"
    )
    proc = bsm.processing("evaluate.py", tmp_path, check=False)
    assert proc.returncode == 1
    assert not list(tmp_path.parent.glob("escaped.txt"))


def test_evaluate_names_a_feature_column_missing_from_the_eval_data(tmp_path, bsm, chain):
    shutil.copytree(chain["eval"] / PROC / "input" / "model", tmp_path / PROC / "input/model")
    test = pd.read_csv(chain["eval"] / PROC / "input/eval_data/test.csv")
    write_frame(test.drop(columns="dialogue"), tmp_path / PROC / "input/eval_data/t.csv", "csv")
    proc = bsm.processing("evaluate.py", tmp_path, check=False)
    assert proc.returncode == 1
    message = (tmp_path / "output" / "message").read_text()
    assert "['dialogue']" in message and "columns present: order_id, order_amount" in message
    assert not (tmp_path / PROC / "output" / "metrics" / "evaluation.json").exists()


def _eval_with(tmp_path: Path, chain: dict, frame: pd.DataFrame) -> Path:
    shutil.copytree(chain["eval"] / PROC / "input" / "model", tmp_path / PROC / "input/model")
    write_frame(frame, tmp_path / PROC / "input/eval_data/t.csv", "csv")
    return tmp_path


def test_evaluate_a_single_class_gives_null_auroc_and_says_why(tmp_path, bsm, chain):
    test = pd.read_csv(chain["eval"] / PROC / "input/eval_data/test.csv")
    base = _eval_with(tmp_path, chain, test[test["label"] == 1])
    proc = bsm.processing("evaluate.py", base)
    report = json.loads((base / PROC / "output/metrics/evaluation.json").read_text())
    assert report["metrics"]["auroc"]["value"] is None
    assert 0.0 <= report["metrics"]["accuracy"]["value"] <= 1.0
    assert "single class ('1' in 'label'): auroc and average_precision are undefined" in (
        proc.stdout
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda f: f.assign(label=f["label"].where(f.index != 2)), "1 evaluation row(s) without"),
        (lambda f: f.iloc[:0], "but no data rows to evaluate"),
    ],
    ids=["missing-label", "no-rows"],
)
def test_evaluate_names_unusable_eval_data(tmp_path, bsm, chain, change, named):
    test = pd.read_csv(chain["eval"] / PROC / "input/eval_data/test.csv")
    base = _eval_with(tmp_path, chain, change(test))
    proc = bsm.processing("evaluate.py", base, check=False)
    assert proc.returncode == 1
    assert named in (base / "output" / "message").read_text()
