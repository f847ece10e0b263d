"""Grid search: every combination of the categorical values, each once, in order.

SageMaker: grid search accepts only categorical ranges; it runs the Cartesian
product of their values, and the number of training jobs is that product's size
(MaxNumberOfTrainingJobs, when given, caps it). The order is the ranges' order,
the last range varying fastest, so a run is reproducible.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from simulator.jobs.tuning.strategies.base import Definition, Proposal, Strategy


def grid_size(definitions: list[Definition]) -> int:
    total = 0
    for d in definitions:
        size = 1
        for p in d.space.parameters:
            size *= len(p.values)
        total += size
    return total


class GridStrategy(Strategy):
    def __init__(self, definitions: list[Definition], minimize: bool) -> None:
        super().__init__(definitions, minimize)
        self._combinations = self._all()

    def _all(self) -> Iterator[Proposal]:
        for d in self.definitions:
            params = d.space.parameters
            for combo in itertools.product(*(p.values for p in params)):
                yield Proposal(d.name, {p.name: v for p, v in zip(params, combo, strict=True)})

    def propose(self) -> Proposal | None:
        with self.lock:
            return next(self._combinations, None)
