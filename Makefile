# Two commands do all the set-up on a fresh Linux machine:
#   make demo   - create .venv, install everything, run the whole DivNoising path on sample data
#   make test   - create .venv, install everything (and Xvfb for the GUI tests), run the test suite
#
# TORCH selects the PyTorch build installed first. The default is the CPU build;
# for an NVIDIA GPU use e.g.  make demo TORCH="torch --index-url https://download.pytorch.org/whl/cu124"

PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
GUI_PACKAGES := xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
	libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-cursor0 libxkbcommon-x11-0 \
	libgl1 libegl1 libdbus-1-3 libfontconfig1

.PHONY: install demo test test-loaded lint format gui-deps screenshots docs docs-serve hooks bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first: a plain "torch" requirement would pull a multi-GB CUDA build
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[testing]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/divnoising demo --out divnoising-demo

gui-deps:
	@command -v Xvfb >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(GUI_PACKAGES); }

test: $(STAMP) gui-deps
	$(BIN)/python -m pytest

# The tests that wait (child processes, the GUI, dask clusters) on a busy machine: beside one
# CPU-bound process per core, as on a shared workstation. `make test-loaded LOADED_TESTS=tests`
# runs the whole suite so.
LOADED_TESTS ?= tests/catalogue/test_faults.py tests/widgets tests/core/prediction/test_to_zarr.py \
	tests/cli/test_predict_stacks.py tests/core/noise_model/test_bootstrap.py
test-loaded: $(STAMP) gui-deps
	@hogs=""; for core in $$(seq $$(nproc)); do \
		$(PYTHON) -c 'while True: pass' & hogs="$$hogs $$!"; done; \
	trap 'kill $$hogs' EXIT; \
	echo "beside $$(nproc) CPU-bound processes:$$hogs"; \
	$(BIN)/python -m pytest $(LOADED_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks docs
	$(BIN)/ruff check --fix src tests benchmarks docs

screenshots: $(STAMP) gui-deps
	xvfb-run -a -s "-screen 0 1600x1000x24" $(BIN)/python docs/scripts/make_screenshots.py

# The documentation site (mkdocs.yml): built into site/ with every warning an error, or served
# at http://127.0.0.1:8000 with live reload while you write.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

docs-serve: $(STAMP)
	$(BIN)/mkdocs serve --strict

# pre-commit's hooks are local (.pre-commit-config.yaml): they run this environment's tools
hooks: $(STAMP)
	$(BIN)/python -m pip install --quiet pre-commit
	$(BIN)/pre-commit install

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache divnoising-demo site
