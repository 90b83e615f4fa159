"""Experiments (docs/math.md §7 and beyond) and the registry of sweep tasks.

``EXPERIMENTS`` maps a name to the module that runs it; every module provides ``NAME``,
``TITLE``, ``settings(quick, seeds) -> dict``, ``work_units(settings) -> int`` and
``run(out_dir, *, quick, seeds, tick) -> ExperimentOutput`` (a PNG figure, the CSV of the
numbers behind it, and a caption ``<name>.md``).

:data:`wnbias.experiments.tasks.REGISTRY` maps a task name to a plain function of keyword
parameters returning a JSON-ready dict; sweeps (``wnbias sweep``) may only name tasks
registered there, never a code path.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Iterable

EXPERIMENT_NAMES = ("init_scale", "eta_ratio", "depth", "stability_map", "regime_map", "scaling", "rate",
                    "convergence_L", "matrix_init_scale", "matrix_eta_ratio", "matrix_rate")


def get_experiment(name: str) -> ModuleType:
    """The module of experiment ``name`` (imported on demand)."""
    if name not in EXPERIMENT_NAMES:
        raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENT_NAMES)}")
    return importlib.import_module(f"wnbias.experiments.{name}")


def unique_names(names: Iterable[str]) -> list:
    """``names`` with repeats removed, first occurrence kept (``reproduce X X`` runs X once)."""
    return list(dict.fromkeys(names))


def output_files(names: Iterable[str]) -> list:
    """The files ``wnbias reproduce`` writes for the experiments ``names`` (and the manifest)."""
    return [f"{n}{ext}" for n in names for ext in (".png", ".csv", ".md")] + ["manifest.json"]


__all__ = ["EXPERIMENT_NAMES", "get_experiment", "output_files", "unique_names"]
