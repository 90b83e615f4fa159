"""Experiments (MATH.md §7 and beyond) and the registry of sweep tasks.

``EXPERIMENTS`` maps a name to the module that runs it; every module provides ``NAME``,
``TITLE``, ``settings(quick, seeds) -> dict``, ``work_units(settings) -> int`` and
``run(out_dir, *, quick, seeds, tick) -> ExperimentOutput`` (a PNG figure, the CSV of the
numbers behind it, and a caption ``<name>.md``).

``TASKS`` maps a task name to a plain function of keyword parameters returning a JSON-ready
dict; sweeps (``wnbias sweep``) may only name tasks registered here, never a code path.
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXPERIMENT_NAMES = ("init_scale", "eta_ratio", "depth", "stability_map", "regime_map", "scaling", "rate")


def get_experiment(name: str) -> ModuleType:
    """The module of experiment ``name`` (imported on demand)."""
    if name not in EXPERIMENT_NAMES:
        raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENT_NAMES)}")
    return importlib.import_module(f"wnbias.experiments.{name}")


def __getattr__(name: str):
    # ``TASKS`` is loaded on first use, so that ``wnbias --help`` does not import numpy.
    if name == "TASKS":
        from wnbias.experiments.tasks import REGISTRY

        return REGISTRY
    raise AttributeError(f"module 'wnbias.experiments' has no attribute {name!r}")


__all__ = ["EXPERIMENT_NAMES", "TASKS", "get_experiment"]
