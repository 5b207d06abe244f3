# InvoiceFlow: `make run` starts the whole stack, `make test` runs the tests.
# Both create the virtualenv and install the pinned dependencies first if needed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test demo bench bench-billing bench-store bench-smtp bench-http lint i18n clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m cli.main dev

# The browser tests (tests/browser) drive Debian's Chromium through Playwright; nothing
# downloads a browser of its own. Installed here when the machine has none.
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	apt-get install -y --no-install-recommends chromium \
		|| (apt-get update && apt-get install -y --no-install-recommends chromium)

test: $(STAMP) $(CHROMIUM)
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) -m cli.main demo

bench: $(STAMP)
	$(PY) -m bench.lifecycle
	$(PY) -m bench.matching
	$(PY) -m bench.codec

# what the payload codec costs per invoice, in isolation (bench/codec.py)
.PHONY: bench-codec
bench-codec: $(STAMP)
	$(PY) -m bench.codec

bench-billing: $(STAMP)
	$(PY) -m bench.billing_run

bench-store: $(STAMP)
	$(PY) -m bench.store_path

bench-smtp: $(STAMP)
	$(PY) -m bench.smtp_sessions

bench-http: $(STAMP)
	$(PY) -m bench.http_clients

.PHONY: bench-matching
bench-matching: $(STAMP)
	$(PY) -m bench.matching

.PHONY: bench-documents
bench-documents: $(STAMP)
	$(PY) -m bench.documents

# 100,000 invoices exported as CSV, XLSX and JSON: wall time and peak RSS (bench/exports.py)
.PHONY: bench-exports
bench-exports: $(STAMP)
	$(PY) -m bench.exports

# The chaos scenarios (tests/chaos): the stack as separate processes, workers, the API and
# the Temporal server killed, providers down; every effect counted where it lands, figures
# printed. CHAOS_INVOICES (default 300) sizes them; not part of `make test`.
.PHONY: chaos
chaos: $(STAMP)
	$(PY) -m pytest -p no:randomly -m chaos tests/chaos

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy domain schemas workflows activities integrations store api cli worker core sandbox

# Translations (rendering/locales): extract every marked text (babel.cfg) into messages.pot,
# merge it into each language's messages.po, compile the .mo files. The .mo files are
# committed, so a fresh clone, the image and `make test` need no step; after editing a .po,
# run this again (tests/rendering/test_catalogs.py fails on a stale .mo or a missing text).
LOCALES := rendering/locales
i18n: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg --no-location --sort-output \
		--project=InvoiceFlow --copyright-holder=InvoiceFlow -o $(LOCALES)/messages.pot .
	$(VENV)/bin/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) --ignore-obsolete \
		--no-fuzzy-matching
	$(VENV)/bin/pybabel compile -d $(LOCALES) --statistics

clean:
	rm -rf $(VENV) .data .pytest_cache
