"""Fixtures of the simulator's unit tests.

* ``code_dir``: a small source dir as users have them: two scripts, a package, and the
  ``__pycache__`` litter that must never be shipped as code.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "bsm" / "__pycache__").mkdir(parents=True)
    (src / "train.py").write_text("print('train')\n")
    (src / "preprocess.py").write_text("print('pre')\n")
    (src / "bsm" / "__init__.py").write_text("")
    (src / "bsm" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    return src
