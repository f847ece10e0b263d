"""Alignment: scripts, contracts, specs and the SageMaker API agree (``smsim validate``).

Four levels, one report:

1. script ↔ contract (:mod:`.script_contract`, static analysis in :mod:`.script_ast`);
2. contract ↔ spec (:mod:`.contract_spec`);
3. spec ↔ dependencies (:mod:`.spec_dependencies`, via the pipeline resolver);
4. spec ↔ SageMaker: property paths, name look-ups and a training step's
   MetricDefinitions against what its script prints (:mod:`.spec_sagemaker`).

What the platform provides without a declaration (``SM_*``, ``SAGEMAKER_BASE_DIR``,
``/opt/ml/output/failure``, ...) is listed once, in :mod:`.platform`.

:func:`validate_project` runs them over a :class:`Project` from
:func:`builtin_project` or :func:`load_project`.
"""

from simulator.alignment.project import Project, ProjectError, builtin_project, load_project
from simulator.alignment.report import Finding, Report, Severity
from simulator.alignment.validator import validate_project

__all__ = [
    "Finding",
    "Project",
    "ProjectError",
    "Report",
    "Severity",
    "builtin_project",
    "load_project",
    "validate_project",
]
