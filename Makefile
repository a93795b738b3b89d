# FestFlow: two commands do everything on a fresh Debian 12 machine.
#   make run   - install what is missing, start the whole system (Ctrl-C or `make stop` ends it)
#   make test  - install what is missing, start real servers, run unit + integration + e2e tests
SHELL := /bin/bash
UV := scripts/uv.sh

.PHONY: install run stop status test unit typecheck bench lock

install:
	@scripts/install.sh

run: install
	@$(UV) run --frozen python -m festflow_devstack run

stop:
	@$(UV) run --frozen python -m festflow_devstack stop

status:
	@$(UV) run --frozen python -m festflow_devstack status

test: install
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen mypy
	@$(UV) run --frozen pytest

typecheck:
	@$(UV) run --frozen mypy

unit:
	@$(UV) run --frozen pytest -m "not stack and not postgres"

bench: install
	@$(UV) run --frozen python bench/checkout_bench.py

lock:
	@$(UV) lock
