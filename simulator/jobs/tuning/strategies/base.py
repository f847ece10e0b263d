"""What every search strategy shares: proposals, observations, and an optuna study.

A strategy proposes the tuned hyperparameters of the next training job
(``propose``), may be told the job's intermediate objective values as the job
emits them (``report``: True means "stop this job now", Hyperband's early
stopping) and is told the job's final objective (``finish``). The tuning run
calls it from one thread at a time; the lock makes that a guarantee.

Random, Bayesian and Hyperband sample through optuna (an ask-and-tell study):
one library handles the scalings (log, integer steps), the seeds and the
parallel trials still running. Grid needs no library (a Cartesian product).
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

from simulator.jobs.tuning.space import SearchSpace

DEFINITION_KEY = "TrainingJobDefinitionName"  # the choice among TrainingJobDefinitions


@dataclass(frozen=True)
class Definition:
    """One training job definition's name (None for TrainingJobDefinition) and space."""

    name: str | None
    space: SearchSpace


@dataclass
class Proposal:
    """The next training job's tuned hyperparameters (strings, as the job receives them)."""

    definition: str | None
    hyperparameters: dict[str, str]
    trial: Any = None  # the optuna trial, for strategies that learn
    steps: list[float] = field(default_factory=list)  # intermediate values reported so far


@dataclass(frozen=True)
class PriorTrial:
    """A finished training job of a parent tuning job (warm start)."""

    definition: str | None
    hyperparameters: dict[str, str]
    value: float


class Strategy:
    """Base: no learning, no early stopping (subclasses override what they use)."""

    def __init__(self, definitions: list[Definition], minimize: bool) -> None:
        self.definitions = definitions
        self.minimize = minimize
        self.lock = threading.Lock()

    def propose(self) -> Proposal | None:
        """The next job's hyperparameters, or None when the strategy has nothing left."""
        raise NotImplementedError

    def report(self, proposal: Proposal, value: float) -> bool:
        """One more intermediate objective value of a running job; True: stop it."""
        proposal.steps.append(value)
        return False

    def finish(self, proposal: Proposal, value: float | None, early: bool = False) -> None:
        """The job ended with ``value`` (None: no objective); ``early``: stopped early."""

    def warm_start(self, prior: list[PriorTrial]) -> int:
        """Learn from parent jobs; returns how many were used (0 for non-learning ones)."""
        return 0


class OptunaStrategy(Strategy):
    """A strategy backed by an optuna study (ask and tell)."""

    def __init__(
        self,
        definitions: list[Definition],
        minimize: bool,
        seed: int | None,
        study_name: str | None = None,
    ) -> None:
        super().__init__(definitions, minimize)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optuna's ExperimentalWarning for some options
            self.study = optuna.create_study(
                direction="minimize" if minimize else "maximize",
                sampler=self.sampler(seed),
                pruner=self.pruner(),
                # Named after the tuning job: Hyperband's brackets hash it with the trial
                # number, so a seeded tuning job is reproducible.
                study_name=study_name,
            )

    def sampler(self, seed: int | None) -> Any:
        raise NotImplementedError

    def pruner(self) -> Any:
        import optuna

        return optuna.pruners.NopPruner()

    def _key(self, definition: Definition, param: str) -> str:
        # With several definitions the same name may be tuned in each, differently.
        return param if len(self.definitions) == 1 else f"{definition.name}:{param}"

    def propose(self) -> Proposal | None:
        with self.lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = self.study.ask()
            definition = self.definitions[0]
            if len(self.definitions) > 1:
                chosen = trial.suggest_categorical(
                    DEFINITION_KEY, [d.name for d in self.definitions]
                )
                definition = next(d for d in self.definitions if d.name == chosen)
            hps = {
                p.name: p.render(p.suggest(trial, self._key(definition, p.name)))
                for p in definition.space.parameters
            }
        return Proposal(definition.name, hps, trial)

    def finish(self, proposal: Proposal, value: float | None, early: bool = False) -> None:
        import optuna

        state = optuna.trial.TrialState
        with self.lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if value is None:
                self.study.tell(proposal.trial, state=state.FAIL)
            elif early and proposal.steps:
                # Stopped by the pruner (Hyperband): optuna ranks it by its last report.
                self.study.tell(proposal.trial, state=state.PRUNED)
            else:
                self.study.tell(proposal.trial, value)

    def warm_start(self, prior: list[PriorTrial]) -> int:
        """Parent jobs become finished trials of the study, when they fit this space."""
        import optuna

        used = 0
        with self.lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for job in prior:
                definition = next((d for d in self.definitions if d.name == job.definition), None)
                if definition is None and len(self.definitions) == 1:
                    definition = self.definitions[0]
                if definition is None or set(job.hyperparameters) != set(definition.space.names):
                    continue  # TransferLearning may change the ranges: skip what no longer fits
                params: dict[str, Any] = {}
                dists: dict[str, Any] = {}
                if len(self.definitions) > 1:
                    names = [d.name for d in self.definitions]
                    params[DEFINITION_KEY] = definition.name
                    dists[DEFINITION_KEY] = optuna.distributions.CategoricalDistribution(names)
                for p in definition.space.parameters:
                    internal = p.internal(job.hyperparameters[p.name])
                    if internal is None:
                        break
                    params[self._key(definition, p.name)] = internal
                    dists[self._key(definition, p.name)] = p.distribution()
                else:
                    self.study.add_trial(
                        optuna.trial.create_trial(
                            params=params, distributions=dists, value=job.value
                        )
                    )
                    used += 1
        return used
