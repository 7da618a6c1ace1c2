# The two commands of the Quickstart: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint bench bench-panels browser pdftools clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python app.py

# Debian's Chromium drives the browser tests (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Debian's poppler-utils (pdftotext, pdftoppm) read the daily brief's PDF back in the tests.
pdftools:
	@command -v pdftotext >/dev/null 2>&1 || { \
	  echo "installing Debian's poppler-utils for the PDF tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq poppler-utils >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) browser pdftools
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The fast lane (< 2 min): pure unit tests (parsers, rules, texts, figures, config, the import layers) and
# the query tests against PostgreSQL; no browser, no fault runs, and the parsers' generated-junk runs
# (hypothesis, ~45 s) are left to `make test`, which still runs everything.
FAST_TESTS := tests/test_layers.py tests/test_config.py tests/test_catalog_data.py tests/test_i18n.py \
	tests/test_alert_engine.py tests/test_alert_text.py tests/test_senml.py tests/test_csv_table.py \
	tests/test_json_mapping.py tests/test_ngsi_ld.py tests/test_openmeteo.py tests/test_vn_aqi.py \
	tests/test_figures.py tests/test_map.py tests/test_queries.py tests/test_alert_queries.py tests/test_storage.py \
	tests/test_status.py tests/test_metric_semantics.py tests/test_freshness.py
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q $(FAST_TESTS) -k "not junk"

bench: $(STAMP) browser
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/alerts.py
	$(BIN)/python bench/faults.py
	$(BIN)/python bench/viewers.py

# ~10 minutes and ~6 GiB: a 53.8 M-row database ioc_bench, then the panels' queries against raw.
bench-panels: $(STAMP)
	$(BIN)/python bench/seed.py
	$(BIN)/python bench/panels.py

clean:
	rm -rf $(VENV) test-output .pytest_cache
