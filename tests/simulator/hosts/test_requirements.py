"""simulator.hosts.requirements: a staged requirements.txt checked offline, nothing installed."""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

from simulator.hosts import requirements


def sourcedir(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_what_the_interpreter_has_is_satisfied_and_what_it_lacks_is_named(tmp_path):
    have = tmp_path / "have.txt"
    have.write_text("pip\n")
    assert requirements.check(have, sys.executable).ok
    lack = tmp_path / "lack.txt"
    lack.write_text("pip\nsmsim-no-such-package==9.9\n")
    result = requirements.check(lack, sys.executable)
    assert not result.ok and "smsim-no-such-package==9.9" in result.detail


def test_an_interpreter_that_cannot_run_pip_is_not_a_failure(tmp_path):
    req = tmp_path / "r.txt"
    req.write_text("anything\n")
    result = requirements.check(req, str(tmp_path / "no-python"))
    assert result.ok and result.detail.startswith("not checked")


def test_the_message_says_what_and_how(tmp_path):
    text = requirements.failure_message(
        "/opt/ml/code/requirements.txt", "/venv/bin/python", "img:1", "built-in default", "E"
    )
    assert text.startswith("/opt/ml/code/requirements.txt lists packages")
    assert '{"img:1": "/path/to/venv/bin/python"}' in text and "images.json" in text


def test_requirements_found_in_staged_sourcedirs(tmp_path):
    tree = tmp_path / "algo-1"
    code = tree / "processing" / "input" / "code"
    code.mkdir(parents=True)
    sourcedir(code / "sourcedir.tar.gz", {"process.py": "", "requirements.txt": "numpy\n"})
    other = tree / "processing" / "input" / "other"
    other.mkdir(parents=True)
    sourcedir(other / "sourcedir.tar.gz", {"process.py": "", "lib/requirements.txt": "x\n"})
    found = requirements.staged_sourcedir_requirements(tree, tmp_path / "scratch")
    assert [(archive.parent.name, path.read_text()) for archive, path in found] == [
        ("code", "numpy\n")
    ]
