# The two commands a fresh machine needs (see README.md):
#   make demo   install everything, then run the demo of every bundle with a report
#   make test   install everything, then run the test suite
# torch is installed first and only when missing: on a CPU-only machine that takes the local CPU wheel
# (torch==2.13.0) instead of a multi-GB CUDA build; a user with CUDA installs their own torch beforehand.
PYTHON ?= python3
PIP = $(PYTHON) -m pip install --disable-pip-version-check --progress-bar off
TORCH_CPU = torch==2.13.0

.PHONY: install demo test lint

install:
	$(PYTHON) -c "import torch" 2>/dev/null || $(PIP) $(TORCH_CPU)
	$(PIP) -e ".[all,test]"

demo: install
	$(PYTHON) -m mri_monai.cli demo --out demo_output --data demo_data

test: install
	$(PYTHON) -m pytest

lint:
	$(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check .
