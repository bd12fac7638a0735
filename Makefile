# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv and install
# torch==2.13.0 FIRST (the local CPU wheel), then everything else under constraints.txt so no
# later install can move torch.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kinema-installed
PROMPT ?= a large red circle bouncing on a black background

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Kinema needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	# scenedetect depends on the GUI opencv-python; both ship cv2/, so remove it and put the
	# headless build back over it (no X11/GL libraries needed)
	$(BIN)/python -m pip uninstall --quiet -y opencv-python
	$(BIN)/python -m pip install --quiet -c constraints.txt --force-reinstall --no-deps opencv-python-headless
	@touch $@

SEED ?= 0

demo: install
	mkdir -p outputs
	$(BIN)/kinema generate "$(PROMPT)" -o outputs/demo.mp4 --seed $(SEED) --force
	$(BIN)/kinema generate "$(PROMPT)" -o outputs/demo.webm --seed $(SEED) --force
	$(BIN)/kinema eval fidelity outputs/demo.mp4 --prompt "$(PROMPT)"
	$(BIN)/kinema world render "$(PROMPT)" -o outputs/demo_truth.mp4 --scene outputs/demo_truth.json --force

lint: install
	$(BIN)/ruff check kinema tests bench tools
	$(BIN)/ruff format --check kinema tests bench tools

test: lint
	$(BIN)/python -m pytest -q -m "not slow"

bench: install
	$(BIN)/python bench/scorer_accuracy.py
	$(BIN)/python bench/vae_eval.py
	$(BIN)/python bench/t2v_eval.py
	$(BIN)/python bench/watermark_eval.py
	$(BIN)/python bench/detector_eval.py
	$(BIN)/python bench/understand_eval.py
	$(BIN)/python bench/t2v_speed.py
	$(BIN)/python bench/edit_eval.py
	$(BIN)/python bench/moderation_eval.py
	$(BIN)/python bench/moderation_eval.py --set bench/data/moderation_heldout.yaml
	$(BIN)/python bench/moderation_eval.py --set bench/data/moderation_heldout2.yaml

clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache
