"""Experiments (docs/math.md §7 and beyond) and the registry of sweep tasks.

``EXPERIMENTS`` maps a name to the module that runs it; every module provides ``NAME``,
``TITLE``, ``settings(quick, seeds) -> dict``, ``work_units(settings) -> int`` and
``run(out_dir, *, quick, seeds, tick) -> ExperimentOutput`` (a PNG figure, the CSV of the
numbers behind it, and a caption ``<name>.md``).

``TASKS`` maps a task name to a plain function of keyword parameters returning a JSON-ready
dict; sweeps (``wnbias sweep``) may only name tasks registered here, never a code path.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Iterable, Sequence

EXPERIMENT_NAMES = ("init_scale", "eta_ratio", "depth", "stability_map", "regime_map", "scaling", "rate",
                    "matrix_init_scale", "matrix_eta_ratio", "matrix_rate")


def get_experiment(name: str) -> ModuleType:
    """The module of experiment ``name`` (imported on demand)."""
    if name not in EXPERIMENT_NAMES:
        raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENT_NAMES)}")
    return importlib.import_module(f"wnbias.experiments.{name}")


def unique_names(names: Iterable[str]) -> list:
    """``names`` with repeats removed, first occurrence kept (``reproduce X X`` runs X once)."""
    return list(dict.fromkeys(names))


class OutputDirError(ValueError):
    """An output directory that cannot be used; the message names the option and the path."""


def check_output_dir(path, option: str = "--out", files: Sequence[str] = ()) -> Path:
    """Check an output directory before any work: create it if missing, refuse a file in its place,
    prove it writable (a temporary file is created and removed), and refuse a directory where
    one of ``files`` (names inside it) is to be written.  Returns the path;
    :class:`OutputDirError` (a ``ValueError``) naming ``option`` otherwise."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputDirError(f"{option}: {p} is a file, not a directory")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputDirError(f"{option}: cannot create the directory {p} ({exc.strerror or exc})") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=f".probe.{os.getpid()}.", suffix=".tmp", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputDirError(f"{option}: cannot write in {p} ({exc.strerror or exc})") from None
    for name in files:
        if (p / name).is_dir():
            raise OutputDirError(f"{option}: {p / name} is a directory; a file is written there")
    return p


def output_files(names: Iterable[str]) -> list:
    """The files ``wnbias reproduce`` writes for the experiments ``names`` (and the manifest)."""
    return [f"{n}{ext}" for n in names for ext in (".png", ".csv", ".md")] + ["manifest.json"]


def __getattr__(name: str):
    # ``TASKS`` is loaded on first use, so that ``wnbias --help`` does not import numpy.
    if name == "TASKS":
        from wnbias.experiments.tasks import REGISTRY

        return REGISTRY
    raise AttributeError(f"module 'wnbias.experiments' has no attribute {name!r}")


__all__ = ["EXPERIMENT_NAMES", "TASKS", "OutputDirError", "check_output_dir", "get_experiment", "output_files",
           "unique_names"]
