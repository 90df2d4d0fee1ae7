# PoseAtlas: `make run` (set up, build the demo, open the dashboard) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: setup run demo test lint typecheck bench browser latex docs clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-cluster.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

demo: setup
	$(PY) -m analysis demo

# The launcher binds the dashboard to 127.0.0.1 wherever it is started from.
run: demo browser
	$(PY) -m dashboard

# Debian's Chromium drives the browser test and kaleido's PNG/SVG export; cairo
# (libcairo2, which cairosvg loads) renders the PDFs.
browser:
	@{ command -v chromium >/dev/null 2>&1 && ldconfig -p | grep -q 'libcairo\.so\.2'; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver libcairo2 >/dev/null; \
	  else echo "chromium or libcairo2 missing: install Debian's chromium and libcairo2 for the browser test and figure export"; fi; }

# Test-only tools: pdflatex (booktabs, amsmath) compiles every exported LaTeX table, and
# poppler's pdftoppm renders exported PDFs, in the tests.
latex:
	@{ command -v pdflatex >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils \
	      texlive-latex-base texlive-latex-recommended >/dev/null; \
	  else echo "pdflatex or pdftoppm missing: install Debian's texlive-latex-base, texlive-latex-recommended and poppler-utils for the LaTeX and PDF checks"; fi; }

# Test-only packages.  xtcocotools (a parity reference) ships wheels built against
# numpy 1.x that do not import under numpy 2.4: build it from source, once.
$(TEST_STAMP): $(STAMP) requirements-cluster.txt
	$(PY) -m pip install -q -r requirements-cluster.txt
	$(PY) -c "import xtcocotools.coco" 2>/dev/null || { \
	  $(PY) -m pip install -q cython==3.3.1 setuptools==84.2.1 wheel==0.48.0 && \
	  $(PY) -m pip install -q --no-binary xtcocotools --no-build-isolation xtcocotools==1.14.3; }
	touch $@

$(DOCS_STAMP): $(STAMP) requirements-docs.txt
	$(PY) -m pip install -q -r requirements-docs.txt
	touch $@

# The documentation site into site/: strict, so a broken link or reference fails it.
docs: setup $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(PY) -m pip install -q -r requirements-bench.txt
	touch $@

# The type checker over analysis/ and dashboard/ ([tool.mypy] in pyproject.toml): zero errors.
typecheck: setup
	$(PY) -m mypy

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Every test: `-m "slow or not slow"` puts back the `slow` tests a plain `pytest` leaves out
# (pyproject.toml's addopts); the 20 slowest are printed at the end.  Bytecode is written even
# where the environment sets PYTHONDONTWRITEBYTECODE (an empty value means unset): the suite
# starts dozens of `python -m analysis` / `-m dashboard` processes, each of which would
# otherwise compile every module of the checkout again.
test: export PYTHONDONTWRITEBYTECODE =
test: setup browser latex $(TEST_STAMP) docs typecheck lint
	$(PY) -m pytest -n 2 --dist loadgroup -m "slow or not slow" --durations=20

# Every benchmark writes the figures it printed to $(BENCH_SUMMARY) (benchmarks/summary.py);
# a failing one does not stop the rest ("-"), and the summary lists it as "no figures".
BENCH_SUMMARY ?= $(CURDIR)/benchmarks/.data/summary
BENCHMARKS := build build-big scenes dashboard evaluate evaluate-memory bootstrap datasets
bench: export POSEATLAS_BENCH_SUMMARY = $(BENCH_SUMMARY)
bench: setup $(BENCH_STAMP)
	rm -rf $(BENCH_SUMMARY)
	-$(PY) -m benchmarks.build --stages
	-$(PY) -m benchmarks.build --big
	-$(PY) -m benchmarks.scenes
	-$(PY) -m benchmarks.dashboard --persons 3000000 --repeats 3
	-$(PY) -m benchmarks.evaluate
	-$(PY) -m benchmarks.evaluate --memory 2000000
	-$(PY) -m benchmarks.bootstrap
	-$(PY) -m benchmarks.datasets
	$(PY) -m benchmarks.summary $(BENCH_SUMMARY) --expect $(BENCHMARKS)

clean:
	rm -rf data/cache data/demo site build
