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
