# The two commands of README.md. Both install what they need first.
PYTHON ?= python3
# A Python named on the command line is used as it is, even a system one (see
# scripts/devtools/venv.py); otherwise an externally managed python3 gets the project's .venv.
ifeq ($(origin PYTHON),command line)
export MEDDEV_PYTHON_EXPLICIT = 1
endif

.PHONY: demo test test-quick trace validate pg-start pg-stop bench

# WORKERS=N serves the demo in prefork mode (N HTTP workers, websocket on port 8072).
WORKERS ?= 0

demo:  ## Odoo 18 with meddev_esign and demo data on http://localhost:8069
	$(PYTHON) scripts/dev.py demo --workers $(WORKERS)

test:  ## static checks, core suite (no Odoo), Odoo suite (real Odoo 18 + PostgreSQL)
	$(PYTHON) scripts/dev.py test

test-quick:  ## static checks and core suite only
	$(PYTHON) scripts/dev.py test --no-odoo

trace:  ## requirement -> tests -> last result; fails on an untested high-risk requirement
	$(PYTHON) scripts/dev.py trace

validate:  ## IQ and OQ of an installation, and its executed validation report: DB=name
	$(PYTHON) scripts/dev.py validate --db $(DB) $(VALIDATE_ARGS)

pg-start:
	$(PYTHON) scripts/dev.py pg start

pg-stop:
	$(PYTHON) scripts/dev.py pg stop
