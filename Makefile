# Two commands do all the set-up: `make run` starts the app, `make test` runs the suite.
# Both create .venv and install the project on first use; later runs reuse it
# (reinstalling only when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Where the app listens: this machine only by default. To serve a team, set
# ADDRESS=0.0.0.0 and FEASIBILITY_PASSWORD (the app refuses otherwise; README "Security").
ADDRESS ?= 127.0.0.1

.PHONY: run test lint bench install

install: $(STAMP)

$(STAMP): pyproject.toml scripts/system-packages.sh
	./scripts/system-packages.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/streamlit run streamlit_app.py --server.address $(ADDRESS)

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# Lint: ruff's checks, ruff's formatting (checked, not applied) and mypy on advisor/ and
# engines/ (settings in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The speed figures against the plain script, then the validation on every real set
# (calibration suite and magnetic tiles) at 180 s each: about 4 minutes a set on 2 cores.
bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.run
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.suite
