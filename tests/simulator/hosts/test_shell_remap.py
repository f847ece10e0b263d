"""simulator.hosts.shell_remap: fallback mode's /opt/ml in shell text, argv and scripts."""

from __future__ import annotations

import subprocess
from pathlib import Path

from simulator.hosts.shell_remap import (
    rewrite_argv,
    rewrite_env,
    rewrite_scripts,
    rewrite_text,
    shell_safe,
)

ROOT = Path("/ws/jobs/j/hosts/algo-1")
# The job command of an SDK v3 ModelTrainer (sagemaker.modules.train.model_trainer).
V3_COMMAND = (
    "chmod +x /opt/ml/input/data/sm_drivers/sm_train.sh "
    "&& /opt/ml/input/data/sm_drivers/sm_train.sh"
)


def test_only_opt_ml_paths_are_rewritten():
    assert rewrite_text("cd /opt/ml/code && ls /opt/ml", ROOT) == f"cd {ROOT}/code && ls {ROOT}"
    assert rewrite_text("'/opt/ml/model'", ROOT) == f"'{ROOT}/model'"
    # Longer names and other trees that merely contain the string stay as they are.
    for text in ("/opt/mlflow/x", "/data/opt/ml/x", "$HOME/opt/ml", "/opt/ml-x", "/opt/ml_y"):
        assert rewrite_text(text, ROOT) == text


def test_the_command_string_of_a_shell_is_rewritten():
    argv = ["/bin/bash", "-c", V3_COMMAND]
    assert rewrite_argv(argv, ROOT) == [
        "/bin/bash",
        "-c",
        f"chmod +x {ROOT}/input/data/sm_drivers/sm_train.sh "
        f"&& {ROOT}/input/data/sm_drivers/sm_train.sh",
    ]
    assert rewrite_argv(["sh", "-ec", "cat /opt/ml/x"], ROOT)[2] == f"cat {ROOT}/x"
    # A script file argument is a path (mapped), its text is rewritten when staged.
    assert rewrite_argv(["bash", "/opt/ml/code/run.sh", "/opt/ml/model"], ROOT) == [
        "bash",
        f"{ROOT}/code/run.sh",
        f"{ROOT}/model",
    ]
    # Not a shell: only whole path arguments move.
    assert rewrite_argv(["python", "-c", "open('/opt/ml/x')"], ROOT) == [
        "python",
        "-c",
        "open('/opt/ml/x')",
    ]


def test_environment_values_that_are_paths_move():
    env = rewrite_env({"MODEL": "/opt/ml/model", "OTHER": "x /opt/ml"}, ROOT)
    assert env == {"MODEL": f"{ROOT}/model", "OTHER": "x /opt/ml"}


def test_staged_shell_scripts_are_rewritten_in_place(tmp_path):
    root = tmp_path / "algo-1"
    code = root / "processing" / "input" / "entrypoint"
    code.mkdir(parents=True)
    runproc = code / "runproc.sh"
    runproc.write_text("#!/bin/bash\ncd /opt/ml/processing/input/code/\ntar -xzf src.tgz\n")
    runproc.chmod(0o755)
    no_suffix = code / "launch"
    no_suffix.write_text("#!/usr/bin/env bash\necho /opt/ml/model\n")
    data = root / "input" / "data" / "train"
    data.mkdir(parents=True)
    (data / "rows.csv").write_text("/opt/ml/not-a-script\n")
    python = code / "tool.py"
    python.write_text("print('/opt/ml/x')\n")

    changed = rewrite_scripts(root, ["/bin/bash", "/opt/ml/processing/input/entrypoint/launch"])
    assert sorted(changed) == sorted([runproc, no_suffix])
    assert runproc.read_text().splitlines()[1] == f"cd {root}/processing/input/code/"
    assert runproc.stat().st_mode & 0o777 == 0o755
    assert no_suffix.read_text().splitlines()[1] == f"echo {root}/model"
    assert (data / "rows.csv").read_text() == "/opt/ml/not-a-script\n"
    assert python.read_text() == "print('/opt/ml/x')\n"  # Python goes through its hook


def test_the_v3_command_runs_with_a_staged_sm_train_sh(tmp_path):
    """The exact ModelTrainer command, rewritten, runs a staged sm_train.sh that reads the
    tree by its /opt/ml paths with plain shell tools."""
    root = tmp_path / "algo-1"
    drivers = root / "input" / "data" / "sm_drivers"
    drivers.mkdir(parents=True)
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text('{"epochs": "3"}')
    (drivers / "sm_train.sh").write_text(
        "\n#!/bin/bash\nset -e\ncat /opt/ml/input/config/hyperparameters.json\n"
        "mkdir -p /opt/ml/model && echo done > /opt/ml/model/flag\n"
    )
    rewrite_scripts(root, [])
    argv = rewrite_argv(["/bin/bash", "-c", V3_COMMAND], root)
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"epochs": "3"}'
    assert (root / "model" / "flag").read_text() == "done\n"


def test_a_tree_path_with_spaces_is_flagged():
    assert shell_safe(ROOT)
    assert not shell_safe(Path("/my jobs/x")) and not shell_safe(Path("/a'b"))
