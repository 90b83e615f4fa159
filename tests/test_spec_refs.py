"""Every "§" citation in the repository resolves in docs/math.md, and nothing points outside it.

The specification is ``docs/math.md``.  Code, docs, notebooks, help strings and report columns
cite it as ``docs/math.md §N.M``, ``math.md §N`` or a bare ``§N`` / ``§N.M`` (ranges ``§2–§5`` and
``§3.3–3.5`` count both ends; a label ``§5 "Monotonicity (exact)"`` or ``§6 (GD vs GF)`` must name
a heading or a bold item inside that section).  The old specification lived outside the
repository; a citation of it by its upper-case file name, or a path into the shared docs, fails.

The scan covers every git-tracked text file and every untracked one git does not ignore (binary
files are skipped); without git, every file under the root except build and environment
directories.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "math.md"
THIS = Path(__file__).resolve()

# Spelled in pieces so that this file does not match its own patterns.
OLD_SPEC = "MATH" + ".md"
FORBIDDEN = (OLD_SPEC, "../" + "shared", "shared" + "/docs")

# "§0" is the deliberately nonexistent section of the fake claims built inside tests.
FAKE_SECTION = "0"

_NUM = r"\d+(?:\.\d+)?"
CITATION = re.compile(
    r"§\s?(?P<a>" + _NUM + r")"
    r"(?:\s?[–—-]\s?§?(?P<b>" + _NUM + r")(?![\d.]*\d))?"
    r"(?:,?\s\"(?P<q>[A-Za-z][^\"\n]{0,60})\"|\s?\((?P<p>[A-Za-z][^()\n]{0,60})\))?"
)
HEADING = re.compile(r"^#{2,4}\s+(?P<id>\d+(?:\.\d+)*)\.?\s+(?P<title>.+?)\s*$", re.M)
BOLD = re.compile(r"\*\*(.+?)\*\*")
SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "node_modules", "__pycache__", "_build",
             ".hypothesis", ".pytest_cache"}


# -- parsing ------------------------------------------------------------------------------------

def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower().replace("`", "")).strip()


def spec_sections(text: str) -> dict[str, list[str]]:
    """Section id → the labels that may be cited with it: its heading title, the titles of its
    subsections, and the bold items in its body (all normalised)."""
    heads = [(m.group("id"), m.group("title"), m.start(), m.end()) for m in HEADING.finditer(text)]
    out: dict[str, list[str]] = {}
    for k, (sid, title, _, end) in enumerate(heads):
        stop = len(text)
        for sid2, _, start2, _ in heads[k + 1:]:
            if not sid2.startswith(sid + "."):
                stop = start2
                break
        body = text[end:stop]
        labels = [title] + [t for s2, t, _, _ in heads if s2.startswith(sid + ".")]
        labels += BOLD.findall(body)
        out[sid] = [_norm(x) for x in labels]
    return out


def citations(text: str):
    """``(line number, section id, label or None, strict, cited text)`` per § citation in ``text``.

    A quoted label (``§5 "Monotonicity (exact)"``, ``§4, "at every finite time"``) is strict: it
    must name an item of the section.  A parenthesis after the number may be a label
    (``§6 (GD vs GF)``) or an aside (``§7 (and beyond)``): it is held to the section only when it
    names an item somewhere in the specification."""
    for m in CITATION.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        label, strict = (m.group("q"), True) if m.group("q") else (m.group("p"), False)
        yield line, m.group("a"), label, strict, m.group(0)
        if m.group("b"):
            yield line, m.group("b"), None, False, m.group(0)


def _names(label: str, labels) -> bool:
    """``label`` is an item of ``labels``, or a whole-word prefix of one."""
    want = _norm(label)
    return bool(want) and any(lab == want or lab.startswith(want + " ") for lab in labels)


def problems_in(text: str, sections: dict[str, list[str]], *, allow_fake: bool = False) -> list[str]:
    """What does not resolve in ``text``: unknown sections, unknown labels, forbidden pointers."""
    bad = []
    everywhere = [lab for labs in sections.values() for lab in labs]
    for line, sid, label, strict, cited in citations(text):
        if allow_fake and sid == FAKE_SECTION:
            continue
        if sid not in sections:
            bad.append(f"line {line}: {cited!r} cites §{sid}, which docs/math.md does not have")
        elif label is not None and (strict or _names(label, everywhere)) and not _names(
                label, sections[sid]):
            bad.append(f"line {line}: {cited!r}: no heading or bold item {label!r} in §{sid}")
    for k, raw in enumerate(text.splitlines(), 1):
        for pat in FORBIDDEN:
            if pat in raw:
                bad.append(f"line {k}: {pat!r} points at the old, external specification")
    return bad


# -- the repository -----------------------------------------------------------------------------

def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, check=True, timeout=30).stdout
        files = [ROOT / p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]
    except (OSError, subprocess.SubprocessError):
        files = [p for p in ROOT.rglob("*")
                 if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(ROOT).parts)]
    return sorted({p for p in files if p.is_file()} | {SPEC})


def read_text(path: Path):
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


@pytest.fixture(scope="module")
def sections():
    assert SPEC.is_file(), "docs/math.md is missing"
    return spec_sections(SPEC.read_text(encoding="utf-8"))


def test_spec_has_the_cited_skeleton(sections):
    """The numbering the code was written against: §1–§9, with §2.1–2.4 and §3.1–3.5."""
    expected = {str(k) for k in range(1, 10)} | {f"2.{k}" for k in range(1, 5)} | {
        f"3.{k}" for k in range(1, 6)}
    assert expected <= set(sections), sorted(expected - set(sections))


def test_every_citation_resolves(sections):
    bad, count = [], 0
    for path in tracked_files():
        if path == THIS:
            continue
        text = read_text(path)
        if text is None:
            continue
        rel = path.relative_to(ROOT).as_posix()
        count += sum(1 for _ in citations(text))
        bad += [f"{rel}: {b}" for b in problems_in(text, sections, allow_fake=rel.startswith("tests/"))]
    assert not bad, "\n".join(bad)
    assert count > 0, "no § citation found at all: the scan is not reading the repository"


def test_runtime_sections_resolve(sections):
    """The sections the claims carry as data resolve too (they reach `verify`'s table)."""
    from wnbias.claims import registry

    claims = registry.all_claims()
    assert claims, "the claim registry is empty"
    bad = []
    for c in claims:
        assert "§" in c.section, (c.id, c.section)
        bad += [f"{c.id}: {b}" for b in problems_in(c.section, sections)]
    assert not bad, "\n".join(bad)


# -- the checker itself can fail ----------------------------------------------------------------

SAMPLE_SPEC = """# t
## 4. The limit
### 4.2 At every finite time
## 5. Gap
### 5.3 Monotonicity (exact)
text **Stiffness.** more
## 6. Dynamics
### 6.6 GD vs GF
"""


@pytest.mark.parametrize("text, n_bad", [
    ("see docs/math.md §4.2 and math.md §5 and §5.3", 0),
    ('§5 "Monotonicity (exact)", §5 (Monotonicity), §4, "at every finite time"', 0),
    ("§4–§5, §4.2–5.3, §5 **x**, §5 Stiffness, §6 (GD vs GF), §6.6", 0),
    ("§7", 1),
    ("§4.7", 1),
    ("§4–§7", 1),
    ("§4.2–4.9", 1),
    ('§5 "Convexity"', 1),
    ("§4 (GD vs GF)", 1),
    ("§4 (an aside), §5 (and more)", 0),
    ('"§4", check_c5, "rule"', 0),
    ("the spec is " + OLD_SPEC + " §4", 1),
    ("see ../" + "shared/docs/math.md", 2),
])
def test_checker_rejects_what_does_not_resolve(text, n_bad):
    assert len(problems_in(text, spec_sections(SAMPLE_SPEC))) == n_bad, problems_in(
        text, spec_sections(SAMPLE_SPEC))


def test_fake_section_only_where_allowed():
    secs = spec_sections(SAMPLE_SPEC)
    assert problems_in('Claim("CX", "t", "s", "§0", ...)', secs)
    assert not problems_in('Claim("CX", "t", "s", "§0", ...)', secs, allow_fake=True)
