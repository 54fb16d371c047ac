# The two commands a newcomer needs are `make run` and `make test`; see README.md.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test venv deploy-tools assets release fleet chaos bench bench-sessions bench-tasks bench-uploads bench-library clean

venv: $(STAMP)

# Rebuilt whenever a requirements file changes; a venv from another interpreter is replaced.
$(STAMP): requirements.txt requirements-dev.txt .python-version
	@python=$$(bin/find-python) || exit 1; \
	if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then \
		rm -rf $(VENV); fi; \
	[ -x $(PY) ] || $$python -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# The CloudFormation template's linters (deploy/requirements-lint.txt), in a venv of their own:
# checkov's dependencies conflict with the site's. Remade whenever that file changes.
DEPLOY_VENV := .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed

deploy-tools: $(DEPLOY_STAMP)

$(DEPLOY_STAMP): deploy/requirements-lint.txt .python-version
	@python=$$(bin/find-python) || exit 1; \
	rm -rf $(DEPLOY_VENV) && $$python -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r deploy/requirements-lint.txt
	touch $(DEPLOY_STAMP)

# The browser uploader, bundled from assets/ and package-lock.json (bin/build-assets).
ASSETS := apps/uploads/static/uploads/uploader.js
assets: $(ASSETS)
$(ASSETS): package.json package-lock.json $(wildcard assets/*)
	bin/build-assets

# The release artefact the AWS instances install: var/releases/stratus-VERSION.tar.gz with
# the code, the uploader bundle and a wheel of every requirement (docs/deploy-nodes.md).
release: $(STAMP) $(ASSETS)
	$(PY) bin/build-release

# Test files are spread over TEST_WORKERS processes (pytest-xdist), whole files at a time so
# that a module's fleet or stack starts once; each process starts its own local AWS stack.
TEST_WORKERS ?= 2

test: $(STAMP) $(ASSETS) $(DEPLOY_STAMP)
	bin/install-system-packages
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

PORT ?= 8000

# The site on the local AWS stack, in the foreground until Ctrl-C (see Procfile). Local S3
# and SQS live in memory, so each run starts from an empty site: the database and
# SimpleDB data under var/ are reset to match. A port already taken stops it at once, in
# one line (the URL is in STRATUS_SITE_URL and the bucket's CORS rule: no silent move).
run: $(STAMP) $(ASSETS)
	@bin/install-system-packages nginx
	@$(PY) bin/check-port $(PORT)
	rm -rf var/db.sqlite3 var/localaws var/localaws.env var/localaws.env.clients
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" PORT=$(PORT) STRATUS_SITE_URL=$${STRATUS_SITE_URL:-http://127.0.0.1:$(PORT)} \
		$(VENV)/bin/honcho start -f Procfile -p $(PORT)

# Group bounds of `make fleet`, and its database: PostgreSQL on loopback, emptied at each
# start (the local S3 and SQS live in memory). See README, "The fleet".
WEB_MIN ?= 2
WEB_MAX ?= 4
WORKER_MIN ?= 1
WORKER_MAX ?= 3
FLEET_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/stratus_fleet_$(PORT)

# The site as an auto-scaled fleet behind HAProxy on PORT, in the foreground until Ctrl-C.
fleet: $(STAMP) $(ASSETS)
	@bin/install-system-packages nginx haproxy
	@$(PY) bin/check-port $(PORT) "make fleet"
	@$(PY) bin/reset-database "$(FLEET_DATABASE_URL)"
	rm -rf var/fleet-$(PORT)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" DATABASE_URL="$(FLEET_DATABASE_URL)" \
		$(PY) -m localaws.fleet --port $(PORT) --web-min $(WEB_MIN) --web-max $(WEB_MAX) \
		--worker-min $(WORKER_MIN) --worker-max $(WORKER_MAX)

# The chaos run: Stratus's fleet and a default-Django baseline under the same abuse, on
# free loopback ports, CHAOS_SECONDS each (see README, "The fleet").
CHAOS_SECONDS ?= 300
CHAOS_USERS ?= 40
chaos: $(STAMP) $(ASSETS)
	@bin/install-system-packages nginx haproxy
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) bench/fleet.py --seconds $(CHAOS_SECONDS) --users $(CHAOS_USERS)

bench: $(STAMP)
	$(PY) bench/simpledb_emulator.py
	$(PY) bench/sessions_cache.py
	$(PY) bench/tasks.py

bench-sessions: $(STAMP)
	$(PY) bench/sessions_cache.py

bench-tasks: $(STAMP)
	$(PY) bench/tasks.py

# The library list at LIBRARY_FILES files for one user, with and without its indexes, on
# the PostgreSQL at BENCH_POSTGRES_URL (default: postgres@127.0.0.1:5432).
LIBRARY_FILES ?= 10000
bench-library: $(STAMP)
	$(PY) bench/library_list.py --files $(LIBRARY_FILES)

# Uploads through one web node vs straight to S3, 1/50/500 MB (UPLOAD_SIZES=1MB,17MiB: quick).
UPLOAD_SIZES ?= 1MB,50MB,500MB
bench-uploads: $(STAMP)
	@bin/install-system-packages nginx
	$(PY) bench/uploads.py --sizes $(UPLOAD_SIZES)

clean:
	rm -rf $(VENV) $(DEPLOY_VENV) .pytest_cache .hypothesis
