"""simulator.hosts.namespace: a host's process sees its tree at /opt/ml; the machine sees nothing.

Real ``unshare`` and real mounts; skipped (with the probe's reason) where the kernel
allows no mount namespace. The ordinary-user test runs as uid 1000 through ``setpriv``
when the suite runs as root (CI) and such a user exists.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.hosts import namespace

REPO = Path(__file__).resolve().parents[3]
SUPPORT = namespace.probe()
pytestmark = pytest.mark.skipif(not SUPPORT.available, reason=SUPPORT.reason)

# What the process inside reports about its world.
REPORT = r"""
import json, os, sys
print(json.dumps({
    "cwd": os.getcwd(),
    "pid": os.getpid(),
    "opt": sorted(os.listdir("/opt")),
    "marker": open("/opt/ml/code/marker").read(),
    "hosts": open("/etc/hosts").read(),
    "uid": os.getuid(),
}))
"""


def make_tree(root: Path) -> Path:
    (root / "code").mkdir(parents=True)
    (root / "code" / "marker").write_text("the host tree")
    (root / "model").mkdir()
    return root


def run_inside(tmp_path: Path, command: list[str], env: dict[str, str]) -> dict:
    tree = make_tree(tmp_path / "hosts" / "algo-1")
    hosts = namespace.write_etc_hosts(tmp_path / "hosts" / "etc-hosts", ["algo-1", "algo-2"])
    argv = namespace.wrap(SUPPORT, tree, command, "/opt/ml/code", hosts, env)
    proc = subprocess.Popen(argv, cwd=tree, env=env, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    report = json.loads(out)
    report["popen_pid"] = proc.pid
    return report


def test_the_process_sees_its_tree_at_opt_ml_and_the_machine_does_not(tmp_path):
    etc_hosts_before = Path("/etc/hosts").read_text()
    opt_before = sorted(os.listdir("/opt"))
    report = run_inside(tmp_path, [sys.executable, "-c", REPORT], {"PATH": os.environ["PATH"]})
    assert report["cwd"] == "/opt/ml/code"
    assert report["marker"] == "the host tree"
    # Every original entry of /opt is still there, next to ml.
    assert report["opt"] == sorted({*opt_before, "ml"})
    assert "127.0.0.1\talgo-1" in report["hosts"] and "127.0.0.2\talgo-2" in report["hosts"]
    assert report["hosts"].startswith(etc_hosts_before.rstrip("\n"))
    # exec all the way: the entry point is the process the launcher started (signals,
    # process group and exit code are its own).
    assert report["pid"] == report["popen_pid"]
    # Nothing changed outside.
    assert not Path("/opt/ml").exists() or "ml" in opt_before
    assert Path("/etc/hosts").read_text() == etc_hosts_before
    assert sorted(os.listdir("/opt")) == opt_before


def test_the_environment_arrives_byte_for_byte(tmp_path):
    """A name no shell keeps (the toolkit's SM_HP_LEARNING-RATE), a multi-line value, and
    no LC_CTYPE added by the init's own Python (PEP 538 coercion)."""
    tree = make_tree(tmp_path / "t")
    env = {"PATH": "/usr/bin:/bin", "SM_HP_LEARNING-RATE": "0.1", "X": "a b\nc=d"}
    argv = namespace.wrap(SUPPORT, tree, ["env", "-0"], "/opt/ml", None, env)
    done = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    pairs = [item.split(b"=", 1) for item in done.stdout.split(b"\0") if item]
    assert {k.decode(): v.decode() for k, v in pairs} == env
    with_lc = {**env, "LC_CTYPE": "POSIX"}
    argv = namespace.wrap(SUPPORT, tree, ["env", "-0"], "/opt/ml", None, with_lc)
    done = subprocess.run(argv, env=with_lc, capture_output=True, timeout=60, check=False)
    assert b"LC_CTYPE=POSIX\0" in done.stdout


def test_shell_and_native_readers_see_opt_ml(tmp_path):
    """A shell command and a C library (pyarrow's parquet reader) open /opt/ml paths."""
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    tree = make_tree(tmp_path / "hosts" / "algo-1")
    (tree / "input" / "data" / "train").mkdir(parents=True)
    pq.write_table(pa.table({"x": [1, 2, 3]}), tree / "input/data/train/part.parquet")
    script = (
        "import pyarrow.parquet as pq, subprocess;"
        "t = pq.read_table('/opt/ml/input/data/train/part.parquet');"
        "sh = subprocess.run(['/bin/sh', '-c', 'ls /opt/ml/input/data/train'],"
        " capture_output=True, text=True).stdout.strip();"
        "print(sum(t.column('x').to_pylist()), sh)"
    )
    argv = namespace.wrap(SUPPORT, tree, [sys.executable, "-c", script], "/", None, {})
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["6", "part.parquet"]


def test_a_failing_setup_says_so(tmp_path):
    argv = namespace.wrap(SUPPORT, tmp_path / "missing", ["/bin/true"], "/", None, {})
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == namespace.SETUP_FAILED
    assert "smsim namespace setup: mount" in done.stderr and "/opt/ml" in done.stderr


def test_a_missing_program_exits_127_like_a_shell(tmp_path):
    tree = make_tree(tmp_path / "t")
    argv = namespace.wrap(SUPPORT, tree, ["no-such-program-x"], "/opt/ml", None, {"PATH": "/bin"})
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 127 and "no-such-program-x: not found" in done.stderr


def test_etc_hosts_lists_each_host_once():
    text = namespace.etc_hosts(["algo-1", "algo-2", "algo-3"], base="127.0.0.1 localhost\n")
    assert text.splitlines() == [
        "127.0.0.1 localhost",
        "# smsim: the job's hosts",
        "127.0.0.1\talgo-1",
        "127.0.0.2\talgo-2",
        "127.0.0.3\talgo-3",
    ]


def test_etc_hosts_names_hosts_on_other_machines_by_their_address():
    # The Ray backend: each algo-k at its node's IP (two hosts may share a node).
    addresses = {"algo-1": "10.0.0.7", "algo-2": "10.0.0.7", "algo-3": "10.0.0.9"}
    text = namespace.etc_hosts(["algo-1", "algo-2", "algo-3"], "", addresses)
    assert text.splitlines()[-3:] == ["10.0.0.7\talgo-1", "10.0.0.7\talgo-2", "10.0.0.9\talgo-3"]


def _ordinary_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None
    for user in pwd.getpwall():
        if 1000 <= user.pw_uid < 60000:
            return user
    return None


USER = _ordinary_user()


@pytest.fixture
def user_dir() -> Iterator[Path]:
    """A directory an ordinary user can reach (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="smsim-ns-user-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# An interpreter every user may run (the suite's may live under /root).
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")


@pytest.mark.skipif(
    USER is None or SYSTEM_PYTHON is None,
    reason="needs root, setpriv, a uid >= 1000 and /usr/bin/python3 to act as an ordinary user",
)
def test_an_ordinary_user_gets_the_same_namespace(user_dir):
    """As uid 1000: the probe chooses ``unshare -Urm``, the process sees its tree at
    /opt/ml (as uid 0 of its user namespace), and what it writes belongs to the user."""
    assert USER is not None and SYSTEM_PYTHON is not None
    tree = make_tree(user_dir / "tree")
    for path in [user_dir, *user_dir.rglob("*")]:
        os.chown(path, USER.pw_uid, USER.pw_gid)
    snippet = (
        "import json, subprocess, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from pathlib import Path\n"
        "from simulator.hosts import namespace\n"
        "s = namespace.probe()\n"
        "cmd = ['/bin/sh', '-c', 'id -u; cat /opt/ml/code/marker; echo w > /opt/ml/model/w']\n"
        f"argv = namespace.wrap(s, Path({str(tree)!r}), cmd, '/opt/ml', None, {{}})\n"
        "done = subprocess.run(argv, capture_output=True, text=True)\n"
        "print(json.dumps([s.available, s.reason, done.returncode, done.stdout, done.stderr]))\n"
    )
    setpriv = ["setpriv", f"--reuid={USER.pw_uid}", f"--regid={USER.pw_gid}", "--clear-groups"]
    done = subprocess.run(
        [*setpriv, SYSTEM_PYTHON, "-c", snippet],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=user_dir,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    available, reason, code, out, err = json.loads(done.stdout)
    if not available:
        pytest.skip(f"unprivileged user namespaces not allowed here: {reason}")
    assert "unshare -Urm" in reason
    assert code == 0, err
    assert out.split() == ["0", "the", "host", "tree"]
    written = tree / "model" / "w"
    assert written.read_text() == "w\n" and written.stat().st_uid == USER.pw_uid
