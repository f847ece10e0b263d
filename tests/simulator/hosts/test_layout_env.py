"""simulator.hosts.layout and toolkit: the toolkit's mapping rules, its Environment and
the /opt/ml tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.errors import UnsupportedFeature
from simulator.hosts.layout import (
    HostLayout,
    container_argv,
    input_data_config,
    map_container_path,
    rewrite_argument,
    write_training_config,
)
from simulator.hosts.shell_remap import rewrite_argv
from simulator.hosts.toolkit import (
    Hyperparameters,
    ToolkitEnvironment,
    decode_hyperparameters,
    split_hyperparameters,
    to_cmd_args,
    to_env_vars,
)


def test_toolkit_mapping_rules():
    assert to_cmd_args({"b": 1, "alpha": "x", "d": {"k2": 2, "k1": 1}, "n": None}) == [
        "--alpha",
        "x",
        "-b",
        "1",
        "-d",
        "k1=1,k2=2",
        "-n",
        "",
    ]
    env = to_env_vars({"hps": {"b": 1, "a": [1, 2]}, "name": "x", "none": None, "flag": True})
    assert env == {"SM_HPS": '{"a":[1,2],"b":1}', "SM_NAME": "x", "SM_NONE": "", "SM_FLAG": "true"}
    decoded = decode_hyperparameters({"a": "1", "b": '"adam"', "c": "not json", "d": "[1, 2]"})
    assert decoded == {"a": 1, "b": "adam", "c": "not json", "d": [1, 2]}
    framework, user = split_hyperparameters(
        {
            "sagemaker_program": "t.py",
            "sagemaker_custom": 1,
            "_tuning_objective_metric": "m",
            "lr": 0.1,
        }
    )
    assert user == {"lr": 0.1}
    assert set(framework) == {"sagemaker_program", "sagemaker_custom", "_tuning_objective_metric"}


ENV_REQUEST = {
    "TrainingJobName": "env-job",
    "HyperParameters": {
        "learning-rate": "0.1",
        "epochs": "3",
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": '"s3://b/code.tar.gz"',
        "sagemaker_extra": "true",
    },
    "InputDataConfig": [
        {"ChannelName": "val", "DataSource": {}, "ContentType": "text/csv"},
        {"ChannelName": "train", "DataSource": {}},
    ],
    "ResourceConfig": {"InstanceType": "ml.c5.xlarge"},
}


def toolkit_env(layout: HostLayout) -> ToolkitEnvironment:
    return ToolkitEnvironment.build(
        layout,
        ENV_REQUEST,
        Hyperparameters.from_request(ENV_REQUEST),
        module_dir="s3://b/code.tar.gz",
        num_cpus=2,
    )


def test_training_environment_matches_the_toolkit(tmp_path):
    layout = HostLayout(tmp_path / "algo-1")
    toolkit = toolkit_env(layout)
    env, args = toolkit.env_vars(), toolkit.cmd_args()
    assert args == ["--epochs", "3", "--learning-rate", "0.1"]
    assert env["SM_CHANNELS"] == '["train","val"]'
    assert env["SM_CHANNEL_TRAIN"] == str(layout.root / "input/data/train")
    assert env["SM_HP_LEARNING-RATE"] == "0.1"
    assert json.loads(env["SM_HPS"]) == {"epochs": 3, "learning-rate": 0.1}
    assert json.loads(env["SM_FRAMEWORK_PARAMS"]) == {"sagemaker_extra": True}
    assert env["SM_USER_ENTRY_POINT"] == "train.py" and env["SM_MODULE_NAME"] == "train"
    assert env["SM_MODULE_DIR"] == "s3://b/code.tar.gz"
    assert env["SM_NUM_CPUS"] == "2" and env["SM_NUM_GPUS"] == "0"
    assert env["SM_CURRENT_INSTANCE_TYPE"] == "ml.c5.xlarge"
    assert env["SM_MODEL_DIR"] == str(layout.model_dir)
    assert env["SM_OUTPUT_DATA_DIR"] == str(layout.output_data_dir)
    assert env["SM_INPUT_CONFIG_DIR"] == str(layout.input_config_dir)
    assert env["SM_IS_HETERO"] == "false"
    assert json.loads(env["SM_USER_ARGS"]) == args
    training_env = json.loads(env["SM_TRAINING_ENV"])
    assert training_env["job_name"] == "env-job" and training_env["is_master"] is True
    assert training_env["hyperparameters"] == {"epochs": 3, "learning-rate": 0.1}
    assert training_env["input_data_config"]["val"]["ContentType"] == "text/csv"
    for key in (
        "SM_HOSTS",
        "SM_NETWORK_INTERFACE_NAME",
        "SM_RESOURCE_CONFIG",
        "SM_INPUT_DATA_CONFIG",
        "SM_CURRENT_HOST",
        "SM_CURRENT_INSTANCE_GROUP",
        "SM_CURRENT_INSTANCE_GROUP_HOSTS",
        "SM_INSTANCE_GROUPS",
        "SM_INSTANCE_GROUPS_DICT",
        "SM_DISTRIBUTION_INSTANCE_GROUPS",
        "SM_LOG_LEVEL",
        "SM_FRAMEWORK_MODULE",
        "SM_INPUT_DIR",
        "SM_OUTPUT_DIR",
        "SM_NUM_NEURONS",
        "SM_OUTPUT_INTERMEDIATE_DIR",
    ):
        assert key in env, key


def test_environment_in_the_container_view_shows_opt_ml():
    """Built against a namespace's view, every SM_* path is the container's, as on the
    service (SM_MODEL_DIR=/opt/ml/model)."""
    env = toolkit_env(HostLayout(Path("/opt/ml"))).env_vars()
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert env["SM_OUTPUT_DATA_DIR"] == "/opt/ml/output/data"
    assert json.loads(env["SM_TRAINING_ENV"])["channel_input_dirs"] == {
        "train": "/opt/ml/input/data/train",
        "val": "/opt/ml/input/data/val",
    }


def test_environment_of_another_host_of_the_cluster():
    toolkit = ToolkitEnvironment.build(
        HostLayout(Path("/opt/ml")),
        ENV_REQUEST,
        Hyperparameters.from_request(ENV_REQUEST),
        module_dir="m",
        current_host="algo-2",
        hosts=["algo-1", "algo-2"],
    )
    env = toolkit.env_vars()
    assert env["SM_CURRENT_HOST"] == "algo-2" and env["SM_HOSTS"] == '["algo-1","algo-2"]'
    assert json.loads(env["SM_TRAINING_ENV"])["is_master"] is False


def test_config_files_written(tmp_path):
    layout = HostLayout(tmp_path / "h")
    request = {
        "HyperParameters": {"a": '"x"'},
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {}}}],
        "ResourceConfig": {"InstanceType": "ml.m5.large"},
    }
    write_training_config(layout, request)
    cfg = layout.input_config_dir
    assert json.loads((cfg / "hyperparameters.json").read_text()) == {"a": '"x"'}
    assert json.loads((cfg / "inputdataconfig.json").read_text()) == {
        "train": {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
    }
    rc = json.loads((cfg / "resourceconfig.json").read_text())
    assert set(rc) == {
        "current_host",
        "current_instance_type",
        "current_group_name",
        "hosts",
        "instance_groups",
        "network_interface_name",
    }
    for d in ("model", "output/data", "checkpoints", "code", "input/data"):
        assert (layout.root / d).is_dir()
    assert input_data_config({}) == {}


def test_container_paths_are_mapped(tmp_path):
    root = tmp_path / "algo-1"
    assert map_container_path("/opt/ml/processing/input", root) == root / "processing/input"
    assert map_container_path("/opt/mlx", root) is None
    assert rewrite_argument("/opt/ml/model/", root) == f"{root}/model/"
    assert rewrite_argument("--flag", root) == "--flag"
    argv = container_argv(["python3", "/opt/ml/code/x.py"], ["/opt/ml/input"], "/venv/bin/python")
    assert argv == ["/venv/bin/python", "/opt/ml/code/x.py", "/opt/ml/input"]
    assert rewrite_argv(argv, root) == ["/venv/bin/python", f"{root}/code/x.py", f"{root}/input"]
    with pytest.raises(UnsupportedFeature, match="outside /opt/ml"):
        HostLayout(root).host_path("/data/x", "LocalPath")
    assert HostLayout(Path("/r")).host_path("/opt/ml/checkpoints") == Path("/r/checkpoints")
