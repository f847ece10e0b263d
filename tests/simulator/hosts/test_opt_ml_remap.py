"""simulator/opt_ml_remap: a Python script that hard-codes /opt/ml reaches the host dir.

Each test runs a real interpreter with the job environment's two variables (the
hook's directory on PYTHONPATH, SMSIM_OPT_ML_ROOT), as ``container.base_env`` sets them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import simulator.hosts.opt_ml_remap

HOOK_DIR = Path(simulator.hosts.opt_ml_remap.__file__).parent

# What the SDK's _repack_model.py and hand-written scripts do with /opt/ml paths.
HARD_CODED = r"""
import json, os, pathlib, shutil, tarfile
os.makedirs("/opt/ml/model/sub", exist_ok=True)
with open("/opt/ml/model/x", "w") as f:
    f.write("written at /opt/ml/model/x")
with open("/opt/ml/input/config/hyperparameters.json") as f:
    hps = json.load(f)
shutil.copy("/opt/ml/model/x", "/opt/ml/model/sub/copy")
os.rename("/opt/ml/model/sub/copy", "/opt/ml/model/sub/moved")
with tarfile.open("/opt/ml/model/model.tar.gz", "w:gz") as tar:
    tar.add("/opt/ml/model/x", arcname="x")
print(json.dumps({
    "hps": hps,
    "exists": os.path.exists("/opt/ml/model/x"),
    "isdir": os.path.isdir("/opt/ml/model/sub"),
    "listdir": sorted(os.listdir("/opt/ml/model")),
    "walk": sorted(f for _, _, fs in os.walk("/opt/ml/input") for f in fs),
    "pathlib": pathlib.Path("/opt/ml/model/x").read_text(),
    "glob": sorted(str(p.name) for p in pathlib.Path("/opt/ml/model").glob("*")),
}))
"""


def run_python(code: str, root: Path | None, extra_path: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SMSIM_OPT_ML_ROOT")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HOOK_DIR), extra_path) if p)
    if root is not None:
        env["SMSIM_OPT_ML_ROOT"] = str(root)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_hard_coded_opt_ml_paths_land_in_the_host_dir(tmp_path):
    root = tmp_path / "hosts" / "algo-1"
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text('{"epochs": "3"}')
    proc = run_python(HARD_CODED, root)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen == {
        "hps": {"epochs": "3"},
        "exists": True,
        "isdir": True,
        "listdir": ["model.tar.gz", "sub", "x"],
        "walk": ["hyperparameters.json"],
        "pathlib": "written at /opt/ml/model/x",
        "glob": ["model.tar.gz", "sub", "x"],
    }
    assert (root / "model" / "x").read_text() == "written at /opt/ml/model/x"
    assert (root / "model" / "sub" / "moved").is_file()
    assert (root / "model" / "model.tar.gz").stat().st_size > 0
    assert not Path("/opt/ml/model/x").exists()  # nothing written to the real /opt/ml


def test_other_paths_are_untouched(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    code = (
        "import os\n"
        f"open({str(tmp_path / 'plain.txt')!r}, 'w').write('p')\n"
        "print(os.path.exists('/opt/mlx'), os.path.exists('/opt/ml'))\n"
    )
    proc = run_python(code, root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True"]  # /opt/mlx is not under /opt/ml
    assert (tmp_path / "plain.txt").read_text() == "p"


@pytest.mark.skipif(Path("/opt/ml").exists(), reason="this machine has a real /opt/ml")
def test_inert_outside_a_job(tmp_path):
    """Without SMSIM_OPT_ML_ROOT (not a job) nothing is remapped."""
    proc = run_python("open('/opt/ml/model/x', 'w')\n", None)
    assert proc.returncode != 0 and "FileNotFoundError" in proc.stderr


def test_the_interpreters_own_sitecustomize_still_runs(tmp_path):
    """The hook shadows any other sitecustomize on the path; it runs that one too."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "sitecustomize.py").write_text("import os\nos.environ['OTHER_SITE'] = 'ran'\n")
    root = tmp_path / "root"
    root.mkdir()
    proc = run_python("import os\nprint(os.environ.get('OTHER_SITE'))\n", root, str(other))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ran"


def test_native_readers_and_shell_commands_reach_the_host_dir(tmp_path):
    """pyarrow's parquet reader/writer (C++), pandas on top of it, and a shell started by
    subprocess, all given hard-coded /opt/ml paths."""
    pytest.importorskip("pyarrow.parquet")
    root = tmp_path / "algo-1"
    (root / "input" / "data" / "train").mkdir(parents=True)
    (root / "model").mkdir()
    code = r"""
import subprocess
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
pq.write_table(pa.table({"x": [1, 2, 3]}), "/opt/ml/input/data/train/part.parquet")
table = pq.read_table("/opt/ml/input/data/train/part.parquet")
frame = pd.read_parquet("/opt/ml/input/data/train/part.parquet")
rows = pq.ParquetFile("/opt/ml/input/data/train/part.parquet").metadata.num_rows
subprocess.run("cp /opt/ml/input/data/train/part.parquet /opt/ml/model/", shell=True, check=True)
listed = subprocess.run(["bash", "-c", "ls /opt/ml/model"], capture_output=True, text=True)
print(sum(table.column("x").to_pylist()), int(frame["x"].sum()), rows, listed.stdout.strip())
"""
    proc = run_python(code, root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["6", "6", "3", "part.parquet"]
    assert (root / "model" / "part.parquet").is_file()


def test_onnxruntime_loads_a_model_by_its_opt_ml_path(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    root = tmp_path / "algo-1"
    (root / "model").mkdir(parents=True)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]),
        root / "model" / "m.onnx",
    )
    code = (
        "import numpy as np, onnxruntime as ort\n"
        "s = ort.InferenceSession('/opt/ml/model/m.onnx', providers=['CPUExecutionProvider'])\n"
        "print(s.run(None, {'x': np.array([2.5], dtype=np.float32)})[0][0])\n"
    )
    proc = run_python(code, root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2.5"
