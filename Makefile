# Two commands for a new user: `make verify` and `make test`.
# Both create .venv when it is missing and install the package with its test extra.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# hypothesis profile: `ci` on CI (CI=true), `dev` otherwise; `make test HYPOTHESIS_PROFILE=thorough` for long runs
HYPOTHESIS_PROFILE ?= $(if $(filter true,$(CI)),ci,dev)
PYTEST_WORKERS ?= 2
# One BLAS thread per process: the suite runs PYTEST_WORKERS processes on a 2-core machine,
# and oversubscribed BLAS threads made the float64 integrator ~3x slower in wall time.
TEST_ENV := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

.PHONY: verify test test-fast notebooks bench bench-long bench-quick reproduce clean help

help:
	@echo "make verify      check every claim on built-in problems (creates .venv)"
	@echo "make test        run the whole test suite, notebooks included (creates .venv)"
	@echo "make notebooks   render notebooks/ to HTML with outputs (notebooks/_build)"
	@echo "make bench       run the benchmarks and rewrite BENCHMARKS.md"
	@echo "make bench-long  make bench plus the N = 10^5 l1-solver row (about 15 minutes more)"
	@echo "make bench-quick a two-minute smoke run of the benchmarks"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

verify: $(STAMP)
	$(BIN)/wnbias verify

test: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --hypothesis-profile=$(HYPOTHESIS_PROFILE) tests

test-fast: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --hypothesis-profile=$(HYPOTHESIS_PROFILE) -m "not slow and not notebook" tests

notebooks: $(STAMP)
	$(BIN)/python -m wnbias.notebooks render notebooks notebooks/_build

BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run --out BENCHMARKS.md

bench-long: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run --long --out BENCHMARKS.md

bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run --quick --out benchmarks/_results/BENCHMARKS-quick.md

# the full reproduction on REPRODUCE_WORKERS Dask worker processes (one BLAS thread each)
REPRODUCE_WORKERS ?= 2
reproduce: $(STAMP)
	$(BIN)/wnbias reproduce --out out/reproduce --dask-local $(REPRODUCE_WORKERS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
