# The two commands a fresh machine needs (see README.md):
#   make demo   install everything, then run the demo of every bundle with a report
#   make test   install everything, then run the test suite
#   make monailabel-env   MONAI Label's own virtual environment (.venv-monailabel/, also made by make test)
# torch is installed first and only when missing: on a CPU-only machine that takes the local CPU wheel
# (torch==2.13.0) instead of a multi-GB CUDA build; a user with CUDA installs their own torch beforehand.
PYTHON ?= python3
PIP = $(PYTHON) -m pip install --disable-pip-version-check --progress-bar off
TORCH_CPU = torch==2.13.0
# pytest-xdist workers: the tests are single-threaded subprocess runs, so one per core (CI has 2)
TEST_WORKERS ?= 2

# MONAI Label runs in a virtual environment of its own: its DICOM dependencies need numpy<2 and pydicom<3.
# mri_monai/monailabel/requirements.txt says why each step is there; the stamp file makes a rerun a no-op.
ML_VENV ?= .venv-monailabel
ML_PY = $(ML_VENV)/bin/python
ML_PIP = $(ML_PY) -m pip install --disable-pip-version-check --progress-bar off
MONAILABEL = monailabel==0.8.5

.PHONY: install demo test lint monailabel-env

install:
	$(PYTHON) -c "import torch" 2>/dev/null || $(PIP) $(TORCH_CPU)
	$(PIP) -e ".[all,test]"

demo: install
	$(PYTHON) -m mri_monai.cli demo --out demo_output --data demo_data

test: install monailabel-env
	$(PYTHON) -m pytest -n $(TEST_WORKERS) --durations=30

lint:
	$(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check .

monailabel-env: $(ML_VENV)/.installed

$(ML_VENV)/.installed: mri_monai/monailabel/requirements.txt mri_monai/monailabel/lazy_torchvision.py
	rm -rf $(ML_VENV)
	$(PYTHON) -m venv $(ML_VENV)
	$(ML_PIP) $(TORCH_CPU)
	$(ML_PIP) -r mri_monai/monailabel/requirements.txt
	$(ML_PIP) --no-deps $(MONAILABEL)
	$(ML_PIP) --no-deps -e .
	$(ML_PY) mri_monai/monailabel/lazy_torchvision.py
	$(ML_PY) -c "import monailabel.tasks.infer.bundle, mri_monai.networks"
	touch $@
