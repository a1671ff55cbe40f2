# Two set-up-and-run commands: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.losskit-installed

.PHONY: install demo test test-explore lint bench

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	# test oracle: only its loss classes are used; its model-zoo dependencies (timm, torchvision)
	# would replace the CPU build of torch, so it is installed without them
	$(PY) -m pip install -q --no-deps "segmentation-models-pytorch>=0.5"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m losskit demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

test: lint
	$(PY) -m pytest -q -n 2 --dist loadfile

# The property tests again with fresh randomness (make test derandomises them); run it often.
test-explore: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(PY) -m pytest -q -n 2 -p no:cacheprovider $$(grep -l "from hypothesis" tests/test_*.py)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py
