"""wnbias.io: one set of version keys, one JSON NaN policy, one atomic write, CSV (issue 15)."""

from __future__ import annotations

import json
import math

import mpmath
import numpy as np
import pytest

from numerics import Status
from wnbias import io


def test_one_set_of_version_keys_everywhere(tmp_path):
    from wnbias.sweep import make_record

    keys = {"wnbias", "python", "numpy", "scipy", "mpmath", "backend"}
    assert set(io.versions()) == keys
    rec = make_record("gd_run", {"seed": 0}, {"result": {"x": 1.0}})
    assert set(rec["versions"]) == keys


def test_json_nan_is_null_and_mpf_keeps_its_digits():
    with mpmath.workdps(40):
        third = mpmath.mpf(1) / 3
    doc = {"nan": float("nan"), "inf": np.float64("inf"), "a": np.array([1.0, np.nan]), "s": Status.CONVERGED,
           "m": third, "mnan": mpmath.mpf("nan"), "o": np.array([third], dtype=object), "i": np.int64(2)}
    text = io.dumps(doc)
    assert "NaN" not in text and "Infinity" not in text
    back = json.loads(text)
    assert back["nan"] is None and back["inf"] is None and back["a"] == [1.0, None] and back["mnan"] is None
    assert back["s"] == "converged" and back["i"] == 2
    # numerics._arith.jsonable's format, with all the digits the mantissa holds (not 15)
    assert back["m"].startswith("3." + "3" * 38) and back["m"].endswith("e-1") and back["o"] == [back["m"]]
    with mpmath.workdps(45):
        assert abs(mpmath.mpf(back["m"]) - third) < mpmath.mpf(10) ** -39


def test_unknown_types_are_a_type_error_naming_the_type():
    class Opaque:
        pass

    with pytest.raises(TypeError, match="Opaque"):
        io.dumps({"x": Opaque()})


@pytest.mark.parametrize("dps", [None, 20])
def test_dumps_of_a_result_is_its_to_dict(dps):
    """One converter: ``io.dumps(result)`` is the result's own ``to_dict()`` (same mpf digits)."""
    import numerics

    problem = numerics.generate("gaussian", 6, 3, 0)
    kw = {} if dps is None else {"dps": dps}
    flow = numerics.integrate(problem, numerics.FlowConfig(), t_max=1.0, **kw)
    assert json.loads(io.dumps(flow)) == flow.to_dict()
    assert json.loads(io.dumps({"flow": [flow]})) == {"flow": [flow.to_dict()]}  # nested, too


def test_sweep_records_follow_the_same_policy(tmp_path):
    from wnbias.sweep import make_record, read_record, write_record

    rec = make_record("gd_run", {"seed": 1}, {"result": {"x": float("nan"), "s": Status.DIVERGED}})
    path = write_record(tmp_path, rec)
    assert "NaN" not in path.read_text()
    back = read_record(path)
    assert back is not None and back["result"] == {"x": None, "s": "diverged"}


def test_write_json_is_atomic_and_dash_is_stdout(tmp_path, capsys):
    p = io.write_json(tmp_path / "a.json", {"x": float("nan")})
    assert json.loads(p.read_text()) == {"x": None}
    assert io.write_json("-", {"y": 1}) == "-"
    assert json.loads(capsys.readouterr().out) == {"y": 1}

    class Boom(Exception):
        pass

    def fail(fh):
        fh.write("partial")
        raise Boom

    (tmp_path / "keep.txt").write_text("old")
    with pytest.raises(Boom):
        io.atomic_write(tmp_path / "keep.txt", fail)
    assert (tmp_path / "keep.txt").read_text() == "old"  # the old file, untouched
    assert not list(tmp_path.glob(".*.tmp"))  # and no temporary left behind


def test_csv_round_trip(tmp_path):
    rows = [{"a": 1, "b": 2.5, "s": Status.CONVERGED, "l": [1, 2], "n": float("nan"), "exact.r0": "0.1"},
            {"a": 2, "extra": True}]
    path = io.write_csv(tmp_path / "t.csv", rows)
    back = io.read_csv(path)
    assert back[0] == {"a": 1, "b": 2.5, "s": "converged", "l": "[1, 2]", "n": None, "exact.r0": "0.1",
                       "extra": None}
    assert back[1]["extra"] is True and back[1]["b"] is None
    assert io.read_csv(io.write_csv(tmp_path / "h.csv", rows, header=["a", "b", "s", "l", "n", "exact.r0",
                                                                      "extra"]))[1]["a"] == 2


def test_output_checks_name_the_option(tmp_path):
    from wnbias.errors import UsageError

    with pytest.raises(UsageError, match="--json: .* does not exist"):
        io.check_output_file(tmp_path / "missing" / "x.json", "--json")
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="--out: .*is a file"):
        io.check_output_dir(tmp_path / "f")
    (tmp_path / "d" / "r.png").mkdir(parents=True)
    with pytest.raises(UsageError, match="r.png is a directory"):
        io.check_output_dir(tmp_path / "d", files=["r.png"])
    assert io.check_output_dir(tmp_path / "new", "--report") == tmp_path / "new"
    assert io.canonical({"b": 1, "a": [1]}) == '{"a":[1],"b":1}'
    with pytest.raises(ValueError):  # what is hashed is strict JSON too
        io.canonical({"x": math.nan})
