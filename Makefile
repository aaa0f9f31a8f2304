# `make test` and `make demo` work from a clean clone: they create .venv, install the project
# (editable, with its dev extras and JAX for the backend tests) and ffmpeg when missing, then run.
# A second run reinstalls nothing.
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# PyTorch's wheel on PyPI is a CUDA build of several GB; a CPU build does for the tests, e.g.
# make test-torch TORCH="torch --index-url https://download.pytorch.org/whl/cpu" (or a wheel at hand).
TORCH ?= torch
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: test test-torch demo install ffmpeg clean

# The linter (ruff.toml: pyflakes, pycodestyle, lines of at most 110 characters, ruff's formatting),
# then every test; `pytest -m "not slow"` leaves out training, studies and subprocesses.
test: install ffmpeg
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PYTHON) -m pytest -q

# The tests marked torch (pytest.ini), with PyTorch installed; `make test` skips them without it.
test-torch: $(VENV)/.installed-torch ffmpeg
	$(PYTHON) -m pytest -q -m torch

# The main job on the toy corpus: the model table, J1 trained at the tiny size (toy corpus made
# on the way, a few minutes on 2 cores), and a toy test song separated with the trained model.
DEMO_SONG = $$(ls -d data/toy_musdb/test/*/ | head -n 1)mixture.wav
demo: install ffmpeg
	$(VENV)/bin/wavenet-j models
	$(PYTHON) experiments/train.py -l WARNING with cfg.J1 cfg.tiny cfg.experiment_id=demo
	$(VENV)/bin/wavenet-j separate "$(DEMO_SONG)" --model checkpoints/demo/best.keras -o separated/demo
	@echo "demo done: model checkpoints/demo/best.keras, logs in logs/demo (tensorboard --logdir logs),"
	@echo "stems of the toy song in separated/demo/mixture/; the wavenet-j command is in .venv/bin"
	@echo "(source .venv/bin/activate puts it on the PATH)"

install: $(INSTALLED)

$(INSTALLED): setup.py
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e ".[dev,jax]"
	touch $@

# torch asks for a setuptools newer than Sacred's pkg_resources allows: both are resolved together.
$(VENV)/.installed-torch: $(INSTALLED)
	$(PYTHON) -m pip install --quiet $(TORCH) "setuptools>=41,<81"
	touch $@

# MUSDB18 stems (.stem.mp4) and mp3/m4a input need ffmpeg: installed with apt-get when we may
# (root, or sudo without a password); otherwise a warning says what to do.
ffmpeg:
	@command -v ffmpeg >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
		if command -v apt-get >/dev/null 2>&1 && $$SUDO true 2>/dev/null; then \
			echo "ffmpeg is missing: installing it with apt-get"; \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq ffmpeg >/dev/null; \
		fi; \
		command -v ffmpeg >/dev/null 2>&1 || { \
			echo "WARNING: ffmpeg is not installed and could not be installed from here."; \
			echo "  Install it yourself (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg;"; \
			echo "  conda: conda install -c conda-forge ffmpeg). Reading MUSDB18 .stem.mp4 files and"; \
			echo "  separating mp3/m4a songs need it; the models and wav data work without it."; }; }

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
