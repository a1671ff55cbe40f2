# Two set-up-and-run commands: `make demo` and `make test`. Both create .venv when missing and
# print each set-up step as it runs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.losskit-installed
# Which PyTorch build set-up installs: empty takes what pip resolves for torch==2.13.0 (on Linux
# from PyPI, the CUDA build); TORCH_INDEX=https://download.pytorch.org/whl/cpu takes the CPU build.
TORCH_INDEX ?=
PIP := $(PY) -m pip install --progress-bar on

.PHONY: install demo test test-core test-explore lint bench

$(STAMP): pyproject.toml
	@echo "== set-up 1/3: Python environment in $(VENV)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "== set-up 2/3: PyTorch 2.13.0 $(if $(TORCH_INDEX),from $(TORCH_INDEX),as pip resolves it (see README: Set up))"
	@echo "   the largest download: the CPU build is about 1 GB installed, the CUDA build about 3 GB"
	$(PIP) torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	@echo "== set-up 3/3: losskit (editable) with the dev extra: scikit-learn, pandas, XGBoost, LightGBM, pytest, ..."
	$(PIP) -e ".[dev]"
	@echo "   test oracle segmentation-models-pytorch without its model-zoo dependencies (timm, torchvision),"
	@echo "   which would not load beside the CPU build of torch; only its loss classes are used"
	$(PIP) --no-deps "segmentation-models-pytorch>=0.5"
	touch $(STAMP)
	@echo "== set-up done"

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m losskit demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

test: lint
	$(PY) -m pytest -q -n 2 --dist loadfile

# A torch-and-numpy-only install: every command names the extra it needs (builds .venv-core once).
test-core:
	PYTHON=$(PYTHON) TORCH_INDEX=$(TORCH_INDEX) .ci/core_only.sh

# The property tests again with fresh randomness (make test derandomises them); run it often.
test-explore: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(PY) -m pytest -q -n 2 -p no:cacheprovider $$(grep -l "from hypothesis" tests/test_*.py)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py
