# PoseAtlas: `make run` (set up, build the demo, open the dashboard) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run demo test bench browser clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-cluster.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

demo: setup
	$(PY) -m analysis demo

run: demo
	$(PY) -m streamlit run dashboard/app.py

# Debian's Chromium drives the browser test and kaleido's figure export.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver libcairo2 >/dev/null; \
	  else echo "chromium missing: install Debian's chromium (apt-get install chromium) for the browser test and figure export"; fi; }

test: setup browser
	$(PY) -m pip install -q -r requirements-cluster.txt
	$(PY) -m pytest -n 2 --dist loadgroup

bench: setup
	$(PY) -m benchmarks.build
	$(PY) -m benchmarks.scenes
	$(PY) -m benchmarks.dashboard

clean:
	rm -rf data/cache data/demo
