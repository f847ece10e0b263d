"""The synthetic BSM data: deterministic, well-formed, and carrying signal in both modalities."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from simulator import datasets
from simulator.datasets import generate, hyperparameters, write_dataset


def test_same_seed_same_rows_other_seed_other_rows():
    a, b, c = generate(200, seed=1), generate(200, seed=1), generate(200, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a[datasets.TEXT_FIELD].equals(c[datasets.TEXT_FIELD])


def test_columns_dialogue_format_and_label_balance():
    frame = generate(1000, seed=0)
    expected = {
        datasets.ID_FIELD,
        datasets.TEXT_FIELD,
        datasets.LABEL_FIELD,
        *datasets.NUMERIC_FIELDS,
        *datasets.CATEGORICAL_FIELDS,
    }
    assert set(frame.columns) == expected
    assert frame[datasets.ID_FIELD].is_unique
    for text in frame[datasets.TEXT_FIELD].head(50):
        turns = text.split(" [eom]")
        assert text.startswith("[bom] buyer: ") and text.endswith("[eom]")
        assert text.count("[bom]") == text.count("[eom]") >= 2
        assert all(t.strip().startswith("[bom] ") for t in turns if t.strip())
    vocabulary = {w for t in frame[datasets.TEXT_FIELD] for w in t.split()}
    assert len(vocabulary) > 250
    assert 0.3 < frame[datasets.LABEL_FIELD].mean() < 0.55
    assert frame["seller_rating"].isna().any()  # holes to impute, like real exports


def test_each_modality_predicts_the_label_and_together_they_predict_it_better():
    frame = generate(4000, seed=3)
    train, test = frame.iloc[:3000], frame.iloc[3000:]
    numeric, categorical = list(datasets.NUMERIC_FIELDS), list(datasets.CATEGORICAL_FIELDS)
    medians = train[numeric].median()
    mean, std = train[numeric].fillna(medians).mean(), train[numeric].fillna(medians).std()
    columns = pd.get_dummies(train[categorical]).columns

    def tab(part: pd.DataFrame) -> sparse.csr_matrix:
        scaled = ((part[numeric].fillna(medians) - mean) / std).to_numpy()
        dummies = pd.get_dummies(part[categorical]).reindex(columns=columns, fill_value=0)
        return sparse.csr_matrix(np.hstack([scaled, dummies.to_numpy(dtype=float)]))

    vec = CountVectorizer(ngram_range=(1, 2), min_df=2, binary=True)
    text_tr, text_te = vec.fit_transform(train.dialogue), vec.transform(test.dialogue)
    features = {
        "text": (text_tr, text_te),
        "tab": (tab(train), tab(test)),
        "both": (
            sparse.hstack([text_tr, tab(train)]).tocsr(),
            sparse.hstack([text_te, tab(test)]).tocsr(),
        ),
    }
    auroc = {}
    for name, (x_tr, x_te) in features.items():
        model = LogisticRegression(max_iter=1000, C=0.5).fit(x_tr, train.label)
        auroc[name] = roc_auc_score(test.label, model.predict_proba(x_te)[:, 1])
    assert 0.7 < auroc["text"] < 0.88 and 0.7 < auroc["tab"] < 0.88, auroc
    assert auroc["both"] > max(auroc["text"], auroc["tab"]) + 0.05, auroc


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet"])
def test_write_dataset_splits_and_round_trips(tmp_path, fmt):
    info = write_dataset(tmp_path, 200, seed=4, fmt=fmt)
    assert info["counts"] == {"train": 140, "val": 30, "test": 30}
    read = {
        "csv": pd.read_csv,
        "tsv": lambda p: pd.read_csv(p, sep="\t"),
        "parquet": pd.read_parquet,
    }[fmt]
    parts = [read(info["files"][s]) for s in ("train", "val", "test")]
    ids = pd.concat(parts)[datasets.ID_FIELD]
    assert ids.is_unique and len(ids) == 200
    assert info["files"]["train"].endswith(f"train/train.{fmt}")
    stored = json.loads((tmp_path / "hyperparameters.json").read_text())
    assert stored == info["hyperparameters"] == hyperparameters()
    assert set(stored["tab_field_list"]) | set(stored["cat_field_list"]) <= set(parts[0].columns)


def test_write_dataset_raw_and_bad_arguments(tmp_path):
    info = write_dataset(tmp_path, 50, seed=0, split=False)
    assert list(info["files"]) == ["raw"] and len(pd.read_csv(info["files"]["raw"])) == 50
    with pytest.raises(ValueError, match="format must be one of"):
        write_dataset(tmp_path, 50, fmt="xlsx")
    with pytest.raises(ValueError, match="rows must be at least 1"):
        generate(0)
