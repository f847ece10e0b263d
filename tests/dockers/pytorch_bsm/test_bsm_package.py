"""The bsm/ package beside train.py: hyperparameter parsing, models, checkpoints."""

from __future__ import annotations

import json
import warnings

import pytest


@pytest.fixture(scope="module")
def hp_mod(bsm_import_path):
    from bsm import hyperparameters

    return hyperparameters


def test_sdk_encoded_and_raw_values_parse_alike(hp_mod):
    sdk = {
        "max_epochs": "3",
        "optimizer": '"adamw"',
        "lr": "0.01",
        "is_binary": "true",
        "tab_field_list": '["a", "b"]',
        "class_weights": "[1.0, 2.5]",
    }
    raw = {
        "max_epochs": "3",
        "optimizer": "adamw",
        "lr": "1e-2",
        "is_binary": "True",
        "tab_field_list": "a, b",
        "class_weights": "[1, 2.5]",
    }
    for values in (sdk, raw):
        hp = hp_mod.parse_hyperparameters(values)
        assert (hp.max_epochs, hp.optimizer, hp.lr, hp.is_binary) == (3, "adamw", 0.01, True)
        assert hp.tab_field_list == ["a", "b"] and hp.class_weights == [1.0, 2.5]


def test_defaults_fit_the_synthetic_data(hp_mod):
    from simulator.datasets import hyperparameters

    hp = hp_mod.parse_hyperparameters({})
    for key, value in hyperparameters().items():
        assert getattr(hp, key) == value or key in {"max_sen_len", "lr"}, key


def test_platform_keys_are_silent_and_unknown_keys_warn(hp_mod):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hp_mod.parse_hyperparameters(
            {
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": '"s3://b/k"',
                "sagemaker_container_log_level": "20",
                "sagemaker_region": '"us-east-1"',
                "sagemaker_job_name": '"j"',
                "learning_rate": "0.1",
            }
        )
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "learning_rate" in messages[0]


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"batch_size": "0"}, "batch_size"),
        ({"optimizer": '"adagrad"'}, "optimizer"),
        ({"is_binary": "true", "num_classes": "3"}, "num_classes"),
        ({"class_weights": "[1.0]"}, "class_weights"),
        ({"dropout": "1.5"}, "dropout"),
    ],
)
def test_invalid_values_name_the_field(hp_mod, values, named):
    with pytest.raises(hp_mod.HyperparameterError, match=named):
        hp_mod.parse_hyperparameters(values)


@pytest.mark.parametrize(
    "model_class", ["multimodal_cnn", "multimodal_transformer", "text_cnn", "lstm", "tabular_mlp"]
)
def test_every_model_class_trains_a_step_and_exports(tmp_path, bsm_import_path, model_class):
    import torch
    from bsm.data import batches, encode_frame, fit_preprocessor
    from bsm.export import export_onnx
    from bsm.hyperparameters import parse_hyperparameters
    from bsm.models import build_model

    from simulator.datasets import generate

    torch.manual_seed(0)
    small = {
        "max_sen_len": 24,
        "embed_dim": 16,
        "hidden_dim": 16,
        "num_filters": 8,
        "num_layers": 1,
        "model_class": model_class,
    }
    hp = parse_hyperparameters({k: json.dumps(v) for k, v in small.items()})
    frame = generate(64, seed=1)
    state = fit_preprocessor(frame, hp)
    data = encode_frame(frame, state, "train")
    model = build_model(hp, state)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    ids, tab, cat, labels = next(batches(data, 64, shuffle=False))

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(model(ids, tab, cat), labels).item()

    before = eval_loss()
    for _ in range(15):
        model.train()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(ids, tab, cat), labels).backward()
        optimizer.step()
    assert eval_loss() < before  # it learns
    model.eval()
    report = export_onnx(model, (ids[:8], tab[:8], cat[:8]), str(tmp_path / "m.onnx"), 1e-4)
    assert report["max_abs_diff"] <= 1e-4
    uses_text = model_class != "tabular_mlp"
    assert ("input_ids" in report["inputs"]) == uses_text
    assert ("tab" in report["inputs"]) == model_class.startswith(("multimodal", "tabular"))


def test_checkpoint_round_trip_restores_rng(tmp_path, bsm_import_path):
    import torch
    from bsm.checkpointing import load_latest, save_checkpoint, set_rng_state

    torch.manual_seed(3)
    for epoch in (1, 2, 3):
        save_checkpoint(str(tmp_path), epoch, {"model": {"w": torch.ones(2) * epoch}})
    expected = torch.rand(4)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-epoch-0002.pt",
        "checkpoint-epoch-0003.pt",
    ]
    (tmp_path / "checkpoint-epoch-0004.pt").write_bytes(b"truncated")  # killed mid-write
    with pytest.warns(UserWarning, match="unreadable"):
        latest = load_latest(str(tmp_path))
    assert latest["epoch"] == 3 and torch.equal(latest["model"]["w"], torch.full((2,), 3.0))
    set_rng_state(latest["rng"])
    assert torch.equal(torch.rand(4), expected)


@pytest.mark.parametrize("parts", [1, 3])
@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet"])
def test_a_channel_reads_back_every_row_in_each_format(tmp_path, bsm_import_path, fmt, parts):
    """One file or several part files (an S3 prefix copied as is, nested) give the same frame."""
    import numpy as np
    import pandas as pd
    from bsm.io import read_channel

    from simulator.datasets import generate, write_frame

    frame = generate(90, seed=4)
    for i, chunk in enumerate(np.array_split(np.arange(len(frame)), parts)):
        folder = tmp_path / "train" / (f"part-{i:05d}" if parts > 1 else "")
        write_frame(frame.iloc[chunk], folder / f"data.{fmt}", fmt)
    (tmp_path / "train" / "_SUCCESS").write_text("")  # non-data files are skipped
    (tmp_path / "train" / ".manifest.csv").write_text("not,data\n")  # so are hidden ones
    got = read_channel(str(tmp_path / "train"), "train")
    assert frame["dialogue"].str.contains("\t").sum() == 0  # tsv stays unambiguous
    pd.testing.assert_frame_equal(got, frame, check_dtype=False)
    assert got["seller_rating"].isna().sum() == frame["seller_rating"].isna().sum() > 0


def test_an_empty_channel_is_named(tmp_path, bsm_import_path):
    from bsm.io import read_channel

    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"channel 'val' at .* holds no \.csv"):
        read_channel(str(tmp_path / "val"), "val")


def test_onnx_export_fails_when_onnx_runtime_disagrees_beyond_the_tolerance(
    tmp_path, bsm_import_path
):
    import torch
    from bsm.data import batches, encode_frame, fit_preprocessor
    from bsm.export import ExportError, export_onnx
    from bsm.hyperparameters import parse_hyperparameters
    from bsm.models import build_model

    from simulator.datasets import generate

    torch.manual_seed(0)
    hp = parse_hyperparameters({"max_sen_len": "16", "embed_dim": "8", "hidden_dim": "8"})
    frame = generate(40, seed=1)
    state = fit_preprocessor(frame, hp)
    ids, tab, cat, _ = next(batches(encode_frame(frame, state, "x"), 40, shuffle=False))
    model = build_model(hp, state).eval()
    report = export_onnx(model, (ids, tab, cat), str(tmp_path / "ok.onnx"), 1e-4)
    assert 0.0 < report["max_abs_diff"] <= 1e-4  # float32 kernels differ, but barely
    with pytest.raises(ExportError, match=r"differ from PyTorch by .* \(> onnx_tolerance 1e-12\)"):
        export_onnx(model, (ids, tab, cat), str(tmp_path / "strict.onnx"), 1e-12)


def test_evaluate_py_encodes_rows_exactly_as_training_does(bsm_import_path):
    """evaluate.py is one self-contained file (the SDK uploads it alone), so it repeats
    bsm.data's encoding: this keeps the two from drifting apart, holes and unseen values too."""
    import importlib.util

    import numpy as np
    from bsm.data import encode_frame, fit_preprocessor
    from bsm.hyperparameters import parse_hyperparameters

    from simulator.datasets import generate

    spec = importlib.util.spec_from_file_location("bsm_evaluate", bsm_import_path / "evaluate.py")
    evaluate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(evaluate)

    hp = parse_hyperparameters({"max_sen_len": "24"})
    state = fit_preprocessor(generate(80, seed=1), hp)
    rows = generate(40, seed=2)
    rows.loc[0, "product_category"] = "garden"  # a category never seen in training
    rows.loc[1, "dialogue"] = None  # an empty dialogue
    rows.loc[2, "order_amount"] = None
    expected = encode_frame(rows, state, "eval")
    got = evaluate.encode(rows, state)
    np.testing.assert_array_equal(got["input_ids"], expected.input_ids)
    np.testing.assert_array_equal(got["tab"], expected.tab)
    np.testing.assert_array_equal(got["cat"], expected.cat)
    assert got["cat"][0, 0] == 0  # the unknown category's index


def test_a_channel_with_files_but_no_rows_is_named(tmp_path, bsm_import_path):
    from bsm.io import read_channel

    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "val.csv").write_text("order_id,dialogue,label\n")
    with pytest.raises(ValueError, match=r"channel 'val' at .* holds 1 file\(s\) but no data rows"):
        read_channel(str(tmp_path / "val"), "val")


def test_rows_without_a_label_are_named_not_called_an_unseen_class(bsm_import_path):
    import numpy as np
    from bsm.data import DataError, encode_frame, fit_preprocessor
    from bsm.hyperparameters import parse_hyperparameters

    from simulator.datasets import generate

    frame = generate(40, seed=1)
    state = fit_preprocessor(frame, parse_hyperparameters({"max_sen_len": "16"}))
    frame.loc[5, "label"] = np.nan
    with pytest.raises(DataError, match=r"val data has 1 row\(s\) without a value in 'label'"):
        encode_frame(frame, state, "val")
