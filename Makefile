# The two commands a newcomer needs are `make run` and `make test`; see README.md.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test venv bench clean

venv: $(STAMP)

# Rebuilt whenever a requirements file changes; a venv from another interpreter is replaced.
$(STAMP): requirements.txt requirements-dev.txt .python-version
	@python=$$(bin/find-python) || exit 1; \
	if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then \
		rm -rf $(VENV); fi; \
	[ -x $(PY) ] || $$python -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

# Until the site lands: the local AWS stack in the foreground (Ctrl-C stops it), with
# SimpleDB's data kept under var/.
run: $(STAMP)
	$(PY) -m localaws --data-dir var/localaws

bench: $(STAMP)
	$(PY) bench/simpledb_emulator.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
