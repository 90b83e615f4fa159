"""Problem files: every corrupt or wrong file is a ProblemFileError naming it, never another exception.

Issue 13: truncated archives, CRC errors and corrupt compressed members, structured dtypes and seeds
stored as arrays gave tracebacks; a ``.npy`` given as a problem file did too, and a text file was
misreported as "holds pickled objects".  Nothing is ever unpickled.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import given, strategies as st

import numerics._problem as problem_module
from numerics._problem import Problem, ProblemFileError, generate

_P = generate("sparse_signed", 10, 4, 3)


def _npz_bytes(arrays: dict, compressed: bool = False) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def _valid_arrays() -> dict:
    return {"A": _P.A, "y": _P.y, "model": np.array("signed"), "x_true": _P.x_true, "seed": np.array(3),
            "description": np.array("a test problem")}


def _npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _member_offset(data: bytes, name: str) -> int:
    """Offset of the first data byte of member ``name`` in a zip archive."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(name)
    start = info.header_offset
    n_name = int.from_bytes(data[start + 26:start + 28], "little")
    n_extra = int.from_bytes(data[start + 28:start + 30], "little")
    return start + 30 + n_name + n_extra


def _flip(data: bytes, pos: int) -> bytes:
    b = bytearray(data)
    b[pos] ^= 0xFF
    return bytes(b)


def _load_error(path) -> str:
    with pytest.raises(ProblemFileError) as info:
        Problem.load(path)
    msg = str(info.value)
    assert str(path) in msg and info.value.path == type(info.value.path)(path)
    assert "pickled" not in msg or "pickled Python objects" in msg
    return msg


def _corrupt_cases():
    good = _npz_bytes(_valid_arrays())
    comp = _npz_bytes(_valid_arrays(), compressed=True)
    a_data = _member_offset(good, "A.npy")
    a_comp = _member_offset(comp, "A.npy")
    cases = [
        ("truncated at half", good[: len(good) // 2], "corrupt or truncated"),
        ("truncated inside the end record", good[:-5], "corrupt or truncated"),
        ("CRC error in A", _flip(good, a_data + 200), "Bad CRC-32"),
        ("corrupt compressed member", _flip(comp, a_comp + 20), "corrupt"),
        ("structured A", _npz_bytes({"A": np.zeros((2, 3), dtype=[("a", float)]), "y": np.ones(2)}), "structured"),
        ("seed as an array", _npz_bytes(dict(_valid_arrays(), seed=np.arange(3))), "'seed' must be one integer"),
        ("seed as a float", _npz_bytes(dict(_valid_arrays(), seed=np.array(1.5))), "'seed' must be one integer"),
        ("no y", _npz_bytes({"A": _P.A}), "no array named 'y'"),
        ("no A, no y", _npz_bytes({"B": _P.A}), "no array named 'A' or 'y'"),
        ("a .npy array", _npy_bytes(_P.A), "single .npy array"),
        ("plain text", b"A = [[1, 2], [3, 4]]\ny = [1, 2]\n", "text file"),
        ("empty", b"", "empty"),
        ("a pickle", pickle.dumps({"A": [[1.0]], "y": [1.0]}), "pickle, which is never loaded"),
        ("gzip", b"\x1f\x8b\x08\x00" + b"\x00" * 20, "gzip"),
        ("binary junk", bytes(range(1, 256)), "neither a zip archive"),
        ("object member", _npz_bytes({"A": np.array([{"a": 1}], dtype=object), "y": np.ones(1)}),
         "pickled Python objects"),
        ("complex A", _npz_bytes({"A": _P.A + 1j, "y": _P.y}), "complex"),
        ("datetime A", _npz_bytes({"A": np.zeros((4, 10), dtype="M8[s]"), "y": _P.y}), "datetime64"),
        ("bool y", _npz_bytes({"A": _P.A, "y": _P.y > 0}), "boolean"),
        ("model not a string", _npz_bytes(dict(_valid_arrays(), model=np.array(3))), "'model' must be one string"),
        ("unknown model", _npz_bytes(dict(_valid_arrays(), model=np.array("dense"))), "'model' is 'dense'"),
        ("description an array", _npz_bytes(dict(_valid_arrays(), description=np.arange(2))),
         "'description' must be one string"),
        ("nan in A", _npz_bytes({"A": np.full((2, 3), np.nan), "y": np.ones(2)}), "non-finite"),
        ("shape mismatch", _npz_bytes({"A": _P.A, "y": np.ones(3)}), "shape mismatch"),
        ("x_true of the wrong length", _npz_bytes(dict(_valid_arrays(), x_true=np.ones(3))), "x_true"),
    ]
    # a header that promises far more data than the member holds: refused before anything is allocated
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False, "shape": (10**15, 4)})
    member.write(_P.A.tobytes())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("A.npy", member.getvalue())
        zf.writestr("y.npy", _npy_bytes(_P.y))
    cases.append(("header larger than the data", buf.getvalue(), "declaring shape (1000000000000000, 4)"))
    # two members with one name
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buf, "w") as zf:
            for name in ("A.npy", "A.npy", "y.npy"):
                zf.writestr(name, _npy_bytes(_P.A if name == "A.npy" else _P.y))
    cases.append(("duplicate member", buf.getvalue(), "two members named 'A'"))
    return cases


_CASES = _corrupt_cases()


@pytest.mark.parametrize("label, data, match", _CASES, ids=[c[0] for c in _CASES])
def test_corrupt_or_wrong_files_are_named(tmp_path, label, data, match):
    path = tmp_path / "p.npz"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        msg = _load_error(path)
    assert match in msg, msg
    assert isinstance(ProblemFileError(path, "x"), ValueError)  # the CLI's `except ValueError` still catches it


def test_text_file_is_not_called_pickled(tmp_path):
    path = tmp_path / "p.npz"
    path.write_text("1 2 3\n4 5 6\n")
    msg = _load_error(path)
    assert "text file" in msg and "pickle" not in msg


def test_missing_directory_unreadable_and_special_files(tmp_path, monkeypatch):
    assert "no such file" in _load_error(tmp_path / "missing.npz")
    assert "is a directory" in _load_error(tmp_path)
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    assert "not a regular file" in _load_error(fifo)  # never opened (opening a FIFO would block)
    path = _P.save(tmp_path / "ok.npz")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(problem_module, "open", denied, raising=False)
    assert "cannot be read (Permission denied)" in _load_error(path)


def test_valid_files_still_load(tmp_path):
    for compressed in (False, True):
        path = tmp_path / f"p{compressed}.npz"
        path.write_bytes(_npz_bytes(dict(_valid_arrays(), extra=np.ones(2)), compressed))
        q = Problem.load(path)
        np.testing.assert_array_equal(q.A, _P.A)
        np.testing.assert_array_equal(q.x_true, _P.x_true)
        assert (q.model, q.seed, q.description) == ("signed", 3, "a test problem")
        assert q.meta["ignored_members"] == ["extra"]
    # Fortran order, big-endian, integer data, a seed of shape (1,), and the minimal file
    path = tmp_path / "f.npz"
    path.write_bytes(_npz_bytes({"A": np.asfortranarray(_P.A).astype(">f8"), "y": _P.y, "seed": np.array([5])}))
    q = Problem.load(path)
    np.testing.assert_array_equal(q.A, _P.A)
    assert q.seed == 5 and q.model == "positive"
    path.write_bytes(_npz_bytes({"A": np.array([[1, 2, 3]]), "y": np.array([4])}))
    np.testing.assert_array_equal(Problem.load(path).A, [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="model must be one of"):
        Problem.load(path, model="dense")


def test_from_npy_names_the_argument(tmp_path):
    def save(name, arr):
        np.save(tmp_path / name, arr)
        return tmp_path / name

    A, y = save("A.npy", _P.A), save("y.npy", _P.y)
    q = Problem.from_npy(A, y, model="signed")
    np.testing.assert_array_equal(q.A, _P.A)
    npz = _P.save(tmp_path / "p.npz")
    text = tmp_path / "t.npy"
    text.write_text("1 2 3")
    cases = [
        ((npz, y), "--A: ", "is a .npz archive"),
        ((A, text), "--y: ", "text file"),
        ((save("A1.npy", np.ones(3)), y), "--A: ", "A must be a 2-D matrix"),  # was blamed on --y
        ((A, save("y2.npy", np.ones((2, 2)))), "--y: ", "y must be a vector"),
        ((A, save("y3.npy", np.ones(3))), "--A/--y: ", "shape mismatch"),
        ((save("Ac.npy", _P.A + 1j), y), "--A: ", "complex"),
        ((A, tmp_path / "none.npy"), "--y: ", "no such file"),
        ((A, tmp_path), "--y: ", "is a directory"),
    ]
    trunc = tmp_path / "trunc.npy"
    trunc.write_bytes(A.read_bytes()[:-7])
    cases.append(((trunc, y), "--A: ", "truncated or corrupt"))
    for (a, b), prefix, match in cases:
        with pytest.raises(ProblemFileError) as info:
            Problem.from_npy(a, b)
        assert str(info.value).startswith(prefix) and match in str(info.value), str(info.value)


# -- random corruption: a Problem, or a ProblemFileError; nothing else ---------------------------

_DTYPES = ["<f4", ">f8", "<i2", "|u1", "|b1", "<c16", "<M8[s]", "<m8[h]", "|S3", "<U2", "|V8", "<f2"]


def _mutate_arrays(arrays: dict, ops) -> dict:
    arrays = dict(arrays)
    for op, key, arg in ops:
        if op == "drop":
            arrays.pop(key, None)
        elif op == "dtype" and key in arrays:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    arrays[key] = np.asarray(arrays[key]).astype(arg)
            except (TypeError, ValueError):
                arrays[key] = np.zeros(np.shape(arrays[key]), dtype=arg)
        elif op == "add":
            arrays[key] = np.arange(arg)
        elif op == "reshape" and key in arrays:
            arrays[key] = np.asarray(arrays[key]).reshape(-1)[: arg or None]
    return arrays


def _mutate_bytes(data: bytes, ops) -> bytes:
    b = bytearray(data)
    for op, where, val in ops:
        if not b:
            break
        i = int(where * len(b)) % len(b)
        if op == "flip":
            b[i] ^= val or 1
        elif op == "truncate":
            del b[i:]
        elif op == "delete":
            del b[i:i + val]
        elif op == "insert":
            b[i:i] = bytes([val]) * (1 + val % 5)
    return bytes(b)


def _assert_problem_or_file_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "p.npz")
        with open(path, "wb") as fh:
            fh.write(data)
        try:
            q = Problem.load(path)
        except ProblemFileError as exc:
            assert path in str(exc)
            return
        assert isinstance(q, Problem)
        assert np.all(np.isfinite(q.A)) and q.A.dtype == np.float64 and q.y.shape == (q.M,)


_keys = st.sampled_from(["A", "y", "model", "seed", "description", "x_true", "extra"])
_array_ops = st.lists(st.one_of(
    st.tuples(st.just("drop"), _keys, st.none()),
    st.tuples(st.just("dtype"), _keys, st.sampled_from(_DTYPES)),
    st.tuples(st.just("add"), _keys, st.integers(0, 5)),
    st.tuples(st.just("reshape"), _keys, st.integers(0, 3)),
), max_size=3)
_byte_ops = st.lists(st.tuples(st.sampled_from(["flip", "truncate", "delete", "insert"]),
                               st.floats(0, 1, allow_nan=False), st.integers(0, 255)), max_size=4)


@given(array_ops=_array_ops, byte_ops=_byte_ops, compressed=st.booleans())
def test_random_mutations_give_a_problem_or_a_problem_file_error(array_ops, byte_ops, compressed):
    arrays = _mutate_arrays(_valid_arrays(), array_ops)
    data = _mutate_bytes(_npz_bytes(arrays, compressed), byte_ops)
    _assert_problem_or_file_error(data)


def test_many_seeded_byte_mutations():
    """A fixed, seeded batch (independent of the hypothesis profile): 400 corruptions of valid files."""
    rng = np.random.default_rng(13)
    bases = [_npz_bytes(_valid_arrays(), c) for c in (False, True)]
    outcomes = {"loaded": 0, "refused": 0}
    for k in range(400):
        data = bytearray(bases[k % 2])
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(0, len(data)))
            kind = int(rng.integers(0, 3))
            if kind == 0:
                data[i] ^= int(rng.integers(1, 256))
            elif kind == 1:
                del data[i:]
                if not data:
                    break
            else:
                data[i:i] = bytes(rng.integers(0, 256, int(rng.integers(1, 9))).astype(np.uint8))
        try:
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "p.npz")
                with open(path, "wb") as fh:
                    fh.write(bytes(data))
                Problem.load(path)
            outcomes["loaded"] += 1
        except ProblemFileError:
            outcomes["refused"] += 1
    assert sum(outcomes.values()) == 400 and outcomes["refused"] > 300, outcomes


def test_seeded_header_mutations():
    """Bytes of the .npy headers replaced (numpy's header parser raised TokenError/SyntaxError on some)."""
    rng = np.random.default_rng(7)
    for compressed in (False, True):
        good = _npz_bytes(_valid_arrays(), compressed)
        offsets = [_member_offset(good, f"{k}.npy") for k in ("A", "y", "seed", "model")]
        for _ in range(150):
            b = bytearray(good)
            for _ in range(int(rng.integers(1, 4))):
                b[offsets[int(rng.integers(0, 4))] + int(rng.integers(8, 128))] = int(rng.integers(0, 256))
            _assert_problem_or_file_error(bytes(b))
    npy = _npy_bytes(_P.A)
    with tempfile.TemporaryDirectory() as d:
        y = os.path.join(d, "y.npy")
        np.save(y, _P.y)
        a = os.path.join(d, "A.npy")
        for _ in range(300):
            b = bytearray(npy)
            for _ in range(int(rng.integers(1, 4))):
                b[int(rng.integers(8, 128))] = int(rng.integers(0, 256))
            with open(a, "wb") as fh:
                fh.write(bytes(b))
            try:
                assert isinstance(Problem.from_npy(a, y), Problem)
            except ProblemFileError as exc:
                assert str(exc).startswith("--A") or str(exc).startswith("--A/--y")
