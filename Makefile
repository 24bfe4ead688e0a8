# `make run` and `make test` each do their own set-up; nothing else needs to be prepared.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SORI := $(VENV)/bin/sori
# Portable llama.cpp build (no -march=native), so a wheel cached by pip runs on any x86-64 CPU.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test test-fast test-bench test-release lint setup-run setup-test clean-venv bundle test-bundle

# The window where there is a display; the terminal chat (with a one-line reason) where there is none.
run: setup-run
	$(SORI) --profile default

# Several test processes at once: much of the suite waits on real-time audio, not on the CPU. Each
# process loads the small models once; a test marked `alone` (a speed comparison) runs by itself.
TEST_WORKERS ?= 4
FAST_WORKERS ?= 6
BENCH_WORKERS ?= 2
XDIST = --dist worksteal
# Every test process, and the plugin checker each session starts, imports Sori: where the environment turns
# compiled files off (PYTHONDONTWRITEBYTECODE, common in containers), each compiles the sources again, about
# 2.5 s of CPU per test process. An empty value turns them back on.
test test-fast test-bench test-release: export PYTHONDONTWRITEBYTECODE :=

# Every test but the benchmark commands' and the release artefacts': real models, real audio, the window
# offscreen.
test: setup-test
	$(VENV)/bin/ruff check assistant ui tests
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) $(XDIST) -m "not release and not bench"

# Fakes and pure logic, no model loaded (tests/conftest.py marks the rest slow): seconds.
test-fast: setup-test
	$(VENV)/bin/pytest -q -n $(FAST_WORKERS) $(XDIST) -m "not slow and not release and not bench"

# The `sori bench` commands, each run as a user runs it on a few recordings: minutes of model work that
# checks the benchmarks, not Sori's behaviour, so not part of `make test`.
test-bench: setup-test
	$(VENV)/bin/pytest -q -n $(BENCH_WORKERS) $(XDIST) -m bench

# The sdist and wheel built, installed into a fresh venv and run, as a release is.
test-release: setup-test
	$(VENV)/bin/pytest -q -m release

lint: setup-test
	$(VENV)/bin/ruff check assistant ui tests

$(PY):
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "sori needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Stamps re-run pip only when pyproject.toml changes.
$(VENV)/.deps-run: pyproject.toml | $(PY)
	scripts/system-deps.sh run
	$(PY) -m pip install -q -e '.[default]'
	touch $@

$(VENV)/.deps-test: pyproject.toml | $(PY)
	scripts/system-deps.sh test
	$(PY) -m pip install -q -e '.[small,test]'
	touch $@

setup-run: $(VENV)/.deps-run
	$(SORI) --profile default models install

setup-test: $(VENV)/.deps-test
	$(SORI) --profile small models install
	$(SORI) models install piper-en_US-joe-medium  # the Piper and sherpa-onnx VITS tests speak with it
	$(SORI) models install whisper-base  # the multilingual model: language detection

clean-venv:
	rm -rf $(VENV)

# A self-contained folder, dist/sori/, with Python, the libraries and the small models (PyInstaller).
PYINSTALLER := pyinstaller==6.22.3
bundle: setup-test
	scripts/system-deps.sh bundle
	$(PY) -m pip install -q '$(PYINSTALLER)'
	$(PY) packaging/build_bundle.py

# Runs the bundle as a machine without Python would, on Xvfb; slow (a build), so not part of `make test`.
test-bundle: bundle
	scripts/test-bundle.sh
