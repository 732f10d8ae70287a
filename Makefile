# The README's commands. Everything installs into .venv from pyproject.toml.
VENV ?= .venv
PY := $(VENV)/bin/python
PAPERLAB := $(VENV)/bin/paperlab
export WANDB_MODE ?= offline

.PHONY: setup demo test test-fast bench baseline reproduce gpu-check lint clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
	# R-CNN's selective search is in OpenCV contrib (cv2.ximgproc); albumentations pulls the plain wheel, so the
	# contrib wheel of the same version is written over it (same cv2 package, a superset of its modules)
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps --force-reinstall \
		"opencv-contrib-python-headless==$$($(PY) -c 'from importlib.metadata import version; print(version("opencv-python-headless"))')" \
		2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -c "import torch, torchvision, lightning, experiments, cv2; cv2.ximgproc"  # fail here, not in the demo
	touch $@

setup: $(VENV)/.installed

demo: setup  ## train the AlexNet ShapesWorld demo end to end
	$(PAPERLAB) fit --config configs/alexnet/demo.yaml

test: setup  ## the whole suite: unit, smoke (every demo config), learning, distributed, resume, CLI
	$(PY) -m pytest -q

test-fast: setup  ## unit + smoke only (tiers follow the test folders: tests/conftest.py)
	$(PY) -m pytest -q -m "unit or smoke"

bench: setup  ## Lightning vs plain-PyTorch step, data wait, MFU on the VGG demo
	$(PAPERLAB) bench --config configs/vgg/demo.yaml

CONFIG ?= configs/alexnet/demo.yaml
baseline: setup  ## the trivial baselines of a demo's data family (make baseline CONFIG=configs/unet/demo.yaml)
	$(PAPERLAB) baseline --config $(CONFIG)

reproduce: setup  ## every demo + every ablation sweep (shortened) -> docs/RESULTS.md; resumable
	$(PAPERLAB) reproduce

gpu-check: setup  ## bf16 training throughput, MFU and memory of ViT-B/16, ResNet-50, Faster R-CNN -> docs/GPU.md (needs CUDA)
	$(PAPERLAB) gpu-check

lint: setup
	$(VENV)/bin/ruff check experiments lit_modules datamodules tests

clean:
	rm -rf runs .pytest_cache
