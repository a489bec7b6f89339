# CACHALOT — two commands on a fresh machine: `make dev` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV = $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PYTEST_ARGS ?=
MYPY_PACKAGES := $(foreach d,$(wildcard libs/*/src/cachalot_* services/*/src/cachalot_* embedded/src/cachalot_*),-p $(notdir $(d)))

TRACES ?=

.PHONY: dev test lint fmt setup tools traces bench clean

setup:  ## install uv (if missing) and the workspace's locked environment
	@command -v uv >/dev/null 2>&1 || [ -x "$(UV)" ] || $(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --all-packages --frozen --quiet

tools: setup  ## the deploy files' validators (deploy/tools.txt) into .tools/; promtool: apt-get install prometheus
	@$(UV) venv --quiet --allow-existing --python 3.11 .tools
	@$(UV) pip install --quiet --python .tools/bin/python -r deploy/tools.txt

traces: setup  ## the embedded tracing UI (Arize Phoenix, embedded/traces.txt) into .traces/
	@$(UV) venv --quiet --allow-existing --python 3.11 .traces
	@$(UV) pip install --quiet --python .traces/bin/python -r embedded/traces.txt

dev: setup $(if $(TRACES),traces)  ## the whole system on the embedded default; TRACES=1: with a tracing UI
	@CACHALOT_DEV_TRACES=$(TRACES) $(UV) run --frozen cachalot-dev

test: setup  ## every test: unit, integration (Tansu, PostgreSQL), end to end, browser
	@$(UV) run --frozen python scripts/test_all.py $(PYTEST_ARGS)

lint: setup  ## ruff and mypy, as CI runs them
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy $(MYPY_PACKAGES)

fmt: setup
	@$(UV) run --frozen ruff format .
	@$(UV) run --frozen ruff check --fix .

bench: setup  ## benchmarks (not part of `make test`), every platform each bench drives; figures in README.md
	@$(UV) run --frozen python bench/contact_intake.py
	@$(UV) run --frozen python bench/pipeline.py --quick --platforms tiktok,youtube,vk
	@$(UV) run --frozen python bench/upload_memory.py --platform tiktok
	@$(UV) run --frozen python bench/upload_memory.py --platform youtube
	@$(UV) run --frozen python bench/upload_memory.py --platform vk
	@$(UV) run --frozen python bench/upload_memory.py --platform telegram
	@$(UV) run --frozen python bench/lease_latency.py
	@$(UV) run --frozen python bench/scheduler.py

clean:
	rm -rf var .venv .tools .traces .mypy_cache .ruff_cache
