"""simulator.images.builtin_algorithm: which images run a built-in algorithm without a script,
and the metric parsing its published regexes rely on."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from simulator.hosts.launcher import MetricParser
from simulator.images import builtin_algorithm

XGBOOST = "683313688378.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1"


def test_the_xgboost_image_runs_the_xgboost_algorithm_in_any_region_and_version() -> None:
    for uri in (XGBOOST, "246618743249.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"):
        algorithm = builtin_algorithm(uri)
        assert algorithm is not None and algorithm.name == "xgboost"
        assert algorithm.entry_point.is_file()
    for uri in (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-sagemaker-xgboost-fork:1",
        None,
    ):
        assert builtin_algorithm(uri) is None


def test_its_metric_definitions_read_the_lines_xgboost_prints() -> None:
    # xgboost's own per-round line (tabs), as the container prints it.
    line = (
        "[12]\ttrain-logloss:0.31000\ttrain-auc:0.95000"
        "\tvalidation-logloss:0.36000\tvalidation-auc:0.88000"
    )
    parser = MetricParser(list(builtin_algorithm(XGBOOST).metric_definitions))
    parser.feed(line)
    values = {m["MetricName"]: m["Value"] for m in parser.final()}
    assert values == {
        "train:auc": 0.95,
        "train:logloss": 0.31,
        "validation:auc": 0.88,
        "validation:logloss": 0.36,
    }


def test_user_regexes_see_a_tab_as_cloudwatch_shows_it() -> None:
    parser = MetricParser([{"Name": "auc", "Regex": r"#011validation-auc:([0-9\.]+)"}])
    parser.feed("[3]\ttrain-auc:0.99\tvalidation-auc:0.91")
    assert [m["Value"] for m in parser.final()] == [0.91]


def test_the_entry_point_refuses_a_json_encoded_objective(tmp_path) -> None:
    pytest.importorskip("xgboost")
    base = tmp_path / "ml"
    (base / "input" / "config").mkdir(parents=True)
    hps = {"objective": json.dumps("binary:logistic"), "num_round": "3"}
    (base / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hps))
    (base / "input" / "config" / "inputdataconfig.json").write_text(json.dumps({"train": {}}))
    proc = subprocess.run(
        [sys.executable, str(builtin_algorithm(XGBOOST).entry_point)],
        env={"SAGEMAKER_BASE_DIR": str(base), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    failure = (base / "output" / "failure").read_text()
    assert 'Hyperparameter objective: "binary:logistic" is not in [' in failure.splitlines()[1]
