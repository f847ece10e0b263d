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
