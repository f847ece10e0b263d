"""smsim: Amazon SageMaker's local mode without Docker.

The public API is small: :class:`LocalSageMaker`, a facade shaped like boto3's
SageMaker client. Importing this package never imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["LocalSageMaker"]

if TYPE_CHECKING:
    from simulator.session import LocalSageMaker


def __getattr__(name: str):  # lazy: `import simulator` stays cheap (no boto3/moto load)
    if name == "LocalSageMaker":
        from simulator.session import LocalSageMaker

        return LocalSageMaker
    raise AttributeError(name)
