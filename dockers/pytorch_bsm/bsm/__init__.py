"""The BSM training code shared by train.py: hyperparameters, data, text, models, loop helpers.

Lives beside train.py in the source dir (SageMaker puts both in /opt/ml/code),
so it is importable as ``bsm`` with the script's directory as cwd. It depends
only on requirements.txt; it never imports smsim.
"""

__version__ = "0.1.0"
