# `make run` and `make test` each do their own set-up; nothing else needs to be prepared.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SORI := $(VENV)/bin/sori
# Portable llama.cpp build (no -march=native), so a wheel cached by pip runs on any x86-64 CPU.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint setup-run setup-test clean-venv bundle test-bundle

# The window where there is a display; the terminal chat (with a one-line reason) where there is none.
run: setup-run
	$(SORI) --profile default

test: setup-test
	$(VENV)/bin/ruff check assistant ui tests
	$(VENV)/bin/pytest -q

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
