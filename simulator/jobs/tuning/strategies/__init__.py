"""Search strategies of a tuning job: Random, Grid, Bayesian, Hyperband (one module each)."""

from __future__ import annotations

from simulator.jobs.tuning.strategies.base import Definition, PriorTrial, Proposal, Strategy
from simulator.jobs.tuning.strategies.bayesian import BayesianStrategy
from simulator.jobs.tuning.strategies.grid import GridStrategy, grid_size
from simulator.jobs.tuning.strategies.hyperband import HyperbandStrategy
from simulator.jobs.tuning.strategies.random_search import RandomStrategy


def make_strategy(
    name: str,
    definitions: list[Definition],
    *,
    minimize: bool,
    seed: int | None,
    budget: int,
    hyperband: tuple[int, int] = (1, 1),
    study_name: str | None = None,
) -> Strategy:
    """The strategy ``HyperParameterTuningJobConfig.Strategy`` names."""
    if name == "Grid":
        return GridStrategy(definitions, minimize)
    if name == "Random":
        return RandomStrategy(definitions, minimize, seed, study_name)
    if name == "Bayesian":
        return BayesianStrategy(definitions, minimize, seed, budget, study_name)
    if name == "Hyperband":
        return HyperbandStrategy(definitions, minimize, seed, *hyperband, study_name=study_name)
    raise ValueError(f"unknown strategy {name!r}")


__all__ = [
    "BayesianStrategy",
    "Definition",
    "GridStrategy",
    "HyperbandStrategy",
    "PriorTrial",
    "Proposal",
    "RandomStrategy",
    "Strategy",
    "grid_size",
    "make_strategy",
]
