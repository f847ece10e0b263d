"""Static analysis of scripts: paths, environment reads and arguments, never running them."""

from __future__ import annotations

import textwrap
from pathlib import Path

from simulator.alignment.script_ast import analyse_script
from simulator.alignment.script_facts import ScriptFacts


def _write(root: Path, rel: str, source: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def _analyse(
    tmp_path: Path, source: str, job_type: str = "training", files: dict[str, str] | None = None
) -> ScriptFacts:
    for rel, text in (files or {}).items():
        _write(tmp_path, rel, text)
    return analyse_script(_write(tmp_path, "script.py", source), job_type)


def _paths(facts: ScriptFacts) -> set[str]:
    return {u.path for u in facts.paths}


def _env(facts: ScriptFacts) -> dict[str, bool]:
    return {r.name: r.has_default for r in facts.env_reads if r.name}


def test_base_dir_constants_resolve_to_opt_ml(tmp_path: Path) -> None:
    facts = _analyse(
        tmp_path,
        """
        import os
        BASE_DIR = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
        MODEL_DIR = os.path.join(BASE_DIR, "model")
        TRAIN = os.path.join(BASE_DIR, "input", "data", "train")
        """,
    )
    assert {"/opt/ml/model", "/opt/ml/input/data/train"} <= _paths(facts)
    # The platform variable takes the platform's value whatever the default says.
    other = _analyse(
        tmp_path, 'import os\nB = os.getenv("SAGEMAKER_BASE_DIR", "/tmp/x")\nM = B + "/model"\n'
    )
    assert "/opt/ml/model" in _paths(other)


def test_pathlib_compositions(tmp_path: Path) -> None:
    facts = _analyse(
        tmp_path,
        """
        import os
        from pathlib import Path
        BASE = Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"))
        OUT = BASE / "processing" / "output"
        METRICS = OUT.joinpath("metrics", "evaluation.json")
        PARENT = METRICS.parent
        """,
        job_type="processing",
    )
    paths = _paths(facts)
    assert "/opt/ml/processing/output/metrics/evaluation.json" in paths
    assert "/opt/ml/processing/output/metrics" in paths


def test_fstrings_concat_format_and_unknown_tails(tmp_path: Path) -> None:
    facts = _analyse(
        tmp_path,
        """
        import os
        BASE = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
        A = f"{BASE}/output/data"
        B = BASE + "/checkpoints"
        C = "{}/model".format(BASE)
        D = "%s/input/config/hyperparameters.json" % BASE

        def save(epoch):
            return os.path.join(BASE, "model", f"epoch_{epoch}.pt")
        """,
    )
    paths = _paths(facts)
    assert {
        "/opt/ml/output/data",
        "/opt/ml/checkpoints",
        "/opt/ml/model",
        "/opt/ml/input/config/hyperparameters.json",
    } <= paths
    tails = [u for u in facts.paths if not u.exact]
    assert tails and all(u.path == "/opt/ml/model" for u in tails)


def test_sm_variables_take_platform_paths_in_training_only(tmp_path: Path) -> None:
    source = """
        import os
        MODEL = os.environ["SM_MODEL_DIR"]
        TRAIN = os.environ.get("SM_CHANNEL_TRAIN")
        """
    training = _analyse(tmp_path, source)
    assert {"/opt/ml/model", "/opt/ml/input/data/train"} <= _paths(training)
    processing = _analyse(tmp_path, source, job_type="processing")
    assert _paths(processing) == set()


def test_environment_reads_with_and_without_defaults(tmp_path: Path) -> None:
    facts = _analyse(
        tmp_path,
        """
        import os
        from os import environ, getenv
        env = os.environ
        A = os.environ.get("A", "1")
        B = os.environ.get("B")
        C = os.getenv("C", default="x")
        D = os.environ["D"]
        E = environ.get("E", None)
        E2 = os.environ.get("E2", compute_default())
        F = getenv("F", "f")
        G = env.get("G", "g")
        if "H" in os.environ:
            pass
        os.environ.setdefault("I", "i")
        os.environ["J"] = "written, not read"
        """,
    )
    assert _env(facts) == {
        "A": True,
        "B": False,
        "C": True,
        "D": False,
        "E": False,
        "E2": True,
        "F": True,
        "G": True,
        "H": True,
        "I": True,
    }
    line_of_d = next(r.location.line for r in facts.env_reads if r.name == "D")
    assert line_of_d == 8


def test_wrapper_functions_report_each_call_site(tmp_path: Path) -> None:
    facts = _analyse(
        tmp_path,
        """
        import os

        def env(name, default=None):
            return os.environ.get(name, default)

        LABEL = env("LABEL_FIELD", "label")
        RATIO = float(env("TRAIN_RATIO"))
        SEED = env("SEED", compute_seed())
        """,
    )
    reads = {r.name: r for r in facts.env_reads}
    assert set(reads) == {"LABEL_FIELD", "TRAIN_RATIO", "SEED"}  # none "dynamic" in the wrapper
    assert reads["SEED"].has_default  # a default of unknown value is still a default
    assert reads["LABEL_FIELD"].has_default and reads["LABEL_FIELD"].location.line == 7
    assert not reads["TRAIN_RATIO"].has_default and reads["TRAIN_RATIO"].location.line == 8


def test_branching_wrapper_functions_report_each_call_site(tmp_path: Path) -> None:
    # Helpers with `if`/`try` cannot be inlined for their value; the reads still count.
    facts = _analyse(
        tmp_path,
        """
        import os

        def env(name, default=None):
            value = os.environ.get(name)
            if value is None:
                return default
            return value

        def require(name):
            try:
                return os.environ[name]
            except KeyError:
                raise SystemExit(f"{name} is required")

        LABEL = env("LABEL_FIELD", "label")
        REGION = require("MY_REGION")
        MODEL = "/opt/ml/model"
        """,
    )
    reads = {r.name: r for r in facts.env_reads}
    assert set(reads) == {"LABEL_FIELD", "MY_REGION"}
    assert reads["LABEL_FIELD"].location.line == 16 and reads["MY_REGION"].location.line == 17
    # The helper's own paths are not repeated at its call sites.
    assert {u.location.line for u in facts.paths} == {18}


def test_loops_over_literals_unrolled_and_computed_names_flagged(tmp_path: Path) -> None:
    facts = _analyse(
        tmp_path,
        """
        import os
        for name in ("X", "Y"):
            print(os.environ.get(name, ""))
        VALUES = {k: os.getenv(k) for k in ["P", "Q"]}

        def read(key_from_user):
            return os.environ[key_from_user.upper()]
        """,
    )
    assert {"X", "Y", "P", "Q"} <= set(_env(facts))
    dynamic = [r for r in facts.env_reads if r.name is None]
    assert len(dynamic) == 1 and dynamic[0].location.line == 8


def test_argparse_arguments_and_defaults(tmp_path: Path) -> None:
    facts = _analyse(
        tmp_path,
        """
        import argparse
        import os

        def parse():
            parser = argparse.ArgumentParser()
            parser.add_argument("--job-type", required=True)
            group = parser.add_argument_group("paths")
            group.add_argument("--model_dir", default=os.environ.get("SM_MODEL_DIR"))
            parser.add_argument("-v", "--verbose", action="store_true")
            parser.add_argument("mode", nargs="?")
            return parser.parse_args()

        args = parse()
        OUT = os.path.join(args.model_dir, "model.pt")
        """,
    )
    by_name = {a.name: a for a in facts.arguments}
    assert set(by_name) == {"job_type", "model_dir", "verbose", "mode"}
    assert by_name["job_type"].required and not by_name["model_dir"].required
    assert not by_name["mode"].required
    assert facts.uses_argparse and not facts.parse_known_args
    assert "/opt/ml/model/model.pt" in _paths(facts)  # args.model_dir → its default


def test_local_imports_are_followed(tmp_path: Path) -> None:
    facts = _analyse(
        tmp_path,
        """
        from pkg import paths
        from pkg.env import rank
        import pkg.extra as extra

        DATA = paths.DATA_DIR / "train"
        """,
        files={
            "pkg/__init__.py": "",
            "pkg/paths.py": """
            import os
            from pathlib import Path
            DATA_DIR = Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")) / "input" / "data"
            """,
            "pkg/env.py": """
            import os
            def rank():
                return int(os.environ.get("RANK", "0"))
            """,
            "pkg/extra.py": """
            from . import paths
            import os
            SECRET = os.environ["EXTRA_TOKEN"]
            """,
        },
    )
    assert "/opt/ml/input/data/train" in _paths(facts)
    files = {Path(f).name for f in facts.files}
    assert {"script.py", "__init__.py", "paths.py", "env.py", "extra.py"} <= files
    extra_read = next(r for r in facts.env_reads if r.name == "EXTRA_TOKEN")
    assert extra_read.location.file.endswith("pkg/extra.py")
    not_followed = analyse_script(tmp_path / "script.py", "training", follow_imports=False)
    assert "EXTRA_TOKEN" not in {r.name for r in not_followed.env_reads}


def test_docstrings_are_not_uses_and_syntax_errors_reported(tmp_path: Path) -> None:
    facts = _analyse(tmp_path, '"""/opt/ml/model is where it goes."""\n')
    assert facts.paths == []
    broken = _analyse(tmp_path, "def f(:\n")
    assert broken.syntax_errors and "script.py" in broken.syntax_errors[0]


def test_namespace_package_imports(tmp_path: Path) -> None:
    facts = _analyse(
        tmp_path,
        "import ns.consts as c\nOUT = c.OUT + '/x.json'\n",
        job_type="processing",
        files={"ns/consts.py": "OUT = '/opt/ml/processing/output/eval'\n"},
    )
    assert "/opt/ml/processing/output/eval/x.json" in _paths(facts)


def test_literal_dicts_and_spread_arguments(tmp_path: Path) -> None:
    facts = _analyse(
        tmp_path,
        """
        import os
        DEFAULTS = {"LABEL_FIELD": "label", "ID_FIELD": "id"}
        SETTINGS = {name: os.environ.get(name, default) for name, default in DEFAULTS.items()}
        for key in DEFAULTS:
            print(os.environ[key])
        PARTS = ("processing", "output", "eval")
        EVAL = os.path.join(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"), *PARTS)
        """,
        job_type="processing",
    )
    assert {(r.name, r.has_default) for r in facts.env_reads if r.name != "SAGEMAKER_BASE_DIR"} == {
        ("LABEL_FIELD", True),
        ("ID_FIELD", True),
        ("LABEL_FIELD", False),
        ("ID_FIELD", False),
    }
    assert "/opt/ml/processing/output/eval" in _paths(facts)
