"""Loaded by every Python that smsim starts for a job (it is on the job's PYTHONPATH).

Without a container, ``/opt/ml`` does not exist: smsim gives each host a directory and
tells scripts through ``SAGEMAKER_BASE_DIR``. Scripts that hard-code ``/opt/ml`` (the
SageMaker SDK's own ``_repack_model.py`` does) would fail; this maps every file-system
call on a path under ``/opt/ml`` to the host directory in ``SMSIM_OPT_ML_ROOT``, the way
the container's mount would. Other paths are untouched; without ``SMSIM_OPT_ML_ROOT``
(outside a job) nothing is patched.

What is remapped: ``open``/``io.open`` and the ``os`` functions listed below, so
everything built on them in Python (``pathlib``, ``shutil``, ``tarfile``, ``glob``,
``os.walk``, ``os.path.exists``…, json/pickle/numpy/torch loads given a path) and
child Python processes (they inherit the PYTHONPATH and the variable).

Limits (a container would have none of them; scripts should prefer SAGEMAKER_BASE_DIR
or the SM_* variables):
* programs that are not Python (``/bin/sh -c "cp /opt/ml/…"``) and C/C++ code that
  opens paths itself (pyarrow's parquet reader, onnxruntime's InferenceSession,
  h5py, sqlite3) see the real ``/opt/ml``, which does not exist;
* functions bound before this module runs (``from os import stat`` at interpreter
  start-up) and ``os`` functions not listed here are not remapped;
* paths come back as given: ``os.getcwd()`` after ``os.chdir("/opt/ml/code")`` and
  ``os.path.realpath`` show the host directory or the unmapped string.
"""

from __future__ import annotations

import builtins
import functools
import io
import os

_ROOT = os.environ.get("SMSIM_OPT_ML_ROOT", "")
_PREFIX = "/opt/ml"


def _map(path):  # type: ignore[no-untyped-def]
    if isinstance(path, int):
        return path
    try:
        text = os.fspath(path)
    except TypeError:
        return path
    if isinstance(text, bytes):
        prefix, root = _PREFIX.encode(), os.fsencode(_ROOT)
    else:
        prefix, root = _PREFIX, _ROOT
    if text == prefix or text.startswith(prefix + (b"/" if isinstance(text, bytes) else "/")):
        return root + text[len(prefix) :]
    return path


def _wrap(func, positions=(0,), keywords=("path", "file", "src", "dst")):  # type: ignore[no-untyped-def]
    @functools.wraps(func)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        if positions:
            args = tuple(_map(a) if i in positions else a for i, a in enumerate(args))
        for key in keywords:
            if key in kwargs:
                kwargs[key] = _map(kwargs[key])
        return func(*args, **kwargs)

    return wrapper


if _ROOT:
    builtins.open = io.open = _wrap(io.open)
    for _name in (
        "stat",
        "lstat",
        "open",
        "listdir",
        "scandir",
        "mkdir",
        "rmdir",
        "remove",
        "unlink",
        "chmod",
        "chown",
        "lchown",
        "utime",
        "access",
        "readlink",
        "chdir",
        "truncate",
        "listxattr",
        "getxattr",
        "setxattr",
        "removexattr",
        "statvfs",
        "mkfifo",
    ):
        if hasattr(os, _name):
            setattr(os, _name, _wrap(getattr(os, _name)))
    for _name in ("rename", "replace", "link", "symlink"):
        setattr(os, _name, _wrap(getattr(os, _name), positions=(0, 1)))


def _chain() -> None:
    """Run the sitecustomize this one shadows (the interpreter's own), if any."""
    import importlib.machinery
    import importlib.util
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None or not spec.origin:
        return
    if os.path.abspath(spec.origin) == os.path.abspath(__file__):
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


_chain()
