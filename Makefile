# pamedge: `make demo` runs the main job on bundled recordings, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime
# Every extra, so tests of training, conversion and sync can run.  torch==2.13.0 is a local
# CPU wheel and must be named in the same pip command, or pip fetches a CUDA build.
EXTRAS := onnx,tflite,train,convert,sync,live,plot,soundscape,parquet,dask,dev,docs
# What the demo needs: the runtime (with its default backend) and the plots; no torch.
RUNTIME_EXTRAS := plot
# pytest workers: every core up to 4 (a worker grows to about 1.1 GB with torch, the runtimes and
# the conversions loaded; 16 of them would want 18 GB); `make test TEST_WORKERS=8` to change it
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

.PHONY: install install-runtime demo test test-quick lint bench clean system-deps models check-routes check-arm64 docs docs-serve

install: $(STAMP)

install-runtime: $(RUNTIME_STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2"
	$(BIN)/python -m pip install --quiet "torch==2.13.0" -e ".[$(EXTRAS)]"
	touch $(STAMP)

# A venv that already has everything (make test) needs nothing more for the demo.
$(RUNTIME_STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	if [ -f $(STAMP) ] && [ $(STAMP) -nt pyproject.toml ] && [ $(STAMP) -nt setup.py ]; then :; else \
		$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2" && \
		$(BIN)/python -m pip install --quiet -e ".[$(RUNTIME_EXTRAS)]"; fi
	touch $(RUNTIME_STAMP)

demo: install-runtime
	rm -rf demo-out
	$(BIN)/edge-detect examples/species -o demo-out --plots \
		--config firmware-config/deployments/multispecies.yaml; test $$? -le 1
	@echo "outputs in demo-out/: detections.csv (classified by models/multispecies) ranking.csv detections.sqlite levels.csv raven/ run.json plots/"
	@echo "the ranked answer per clip (species from the file names):"
	@$(BIN)/python examples/species/check_ranking.py demo-out
	@echo "the run report:"
	@$(BIN)/edge-report demo-out

# The whole suite on every core up to 4 (pytest-xdist): about 5 min on 2 cores, against 8.5-10 min in one
# process, which left CI's budget of 10 no margin on a slower host.
test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

# The inner loop, under a minute: everything but the tests marked slow (end-to-end runs,
# trainings, wheels), on every core up to 4 (pytest-xdist); tests that need ../shared still run where
# it is present.
test-quick: install
	$(BIN)/python -m pytest -q -m "not slow" -x -n $(TEST_WORKERS)

# ruff (rules in pyproject.toml): pyflakes, pycodestyle, import order, bugbear, pyupgrade, and the
# formatter; mypy --strict on the runtime package edge/ (pyproject.toml [tool.mypy]); and the
# documentation site builds with no warning (a broken link or a stale CLI reference fails)
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(MAKE) docs

# The documentation site (mkdocs-material; the CLI reference is generated from the commands)
# into site/; `make docs-serve` serves it at http://127.0.0.1:8000 while you edit docs/.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

docs-serve: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# Each install route of the README's table of boards: the wheels exist (pip download only).
check-routes: install-runtime
	$(BIN)/python .ci/install_routes.py

# The runtime on 64-bit ARM (Raspberry Pi 4 and 5, Neoverse-N1 CPUs) emulated by qemu-aarch64: every
# shipped bundle's selftest and the tests whose results depend on the CPU's arithmetic (.ci/arm64.sh;
# root, apt-get, PyPI; says why and passes where the host cannot emulate).
check-arm64: install
	bash .ci/arm64.sh

bench: install
	$(BIN)/python benchmarks/bench_frontend.py
	$(BIN)/python benchmarks/bench_cluster.py
	$(BIN)/python benchmarks/bench_frames.py
	$(BIN)/python benchmarks/bench_convert.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/edge-bench

# The three shipped models, trained from their recipes (training/recipes/) into runs/<name>/ with
# their held-out evaluation (evaluation.json), then converted into the INT8 bundles in models/
# (edge-convert: written only if they pass the accuracy gate); needs ../shared/data/real.  An interrupted run
# resumes; `make models RESTART=1` trains from scratch (times on 2 cores: docs/tutorials/train.md).
MODELS := narw-upcall multispecies beluga-demo
# narw-upcall: onnxruntime's kernels (VNNI, and AVX2 under qemu Haswell) deviate 0.0287 from the
# reference arithmetic at most (over 9,229 windows, agreement 1.000), past the default 0.015 limit
# (0.03 / margin 2); its selftest tolerance is 0.06 so the margin stays 2 (benchmarks/RESULTS.md). multispecies: an
# AVX2-only host's kernels deviated 0.0214 from the reference arithmetic for the one-network model
# (0.014 for the shipped three-network one, VNNI and AVX2 under qemu), argmax agreement 0.996-1.000 on
# 249 validation windows; what it is used for, the ranked answer per recording, agrees
# (benchmarks/bench_ranking_int8.py: 180 of 180 first classes, RESULTS)
models: install
	@for name in $(MODELS); do \
		echo "== $$name"; \
		$(BIN)/edge-train training/recipes/$$name.yaml -o runs/$$name $(if $(RESTART),--restart) || exit 1; \
		case $$name in narw-upcall) opts="--golden-tolerance 0.06";; \
			multispecies) opts="--golden-tolerance 0.05 --min-agreement 0.98";; *) opts="";; esac; \
		$(BIN)/edge-convert runs/$$name -o models/$$name --force $$opts || exit 1; \
	done

# Debian packages some tests use: chromium renders the run report headless, mosquitto is the
# MQTT broker of the LTE transport tests (the tests skip without them).  A no-op when present;
# never fails the build where apt is unavailable.
system-deps:
	@if [ -x /usr/bin/chromium ]; then \
		echo "system-deps: chromium present"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "system-deps: note: no apt-get here; install chromium by hand for the report screenshot test (it skips without it)"; \
	else \
		if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo -n"; fi; \
		{ $$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends chromium; } \
			|| echo "system-deps: note: could not install chromium; the report screenshot test will skip"; \
	fi
	@# mosquitto: the MQTT broker the LTE transport tests start on loopback (they skip without it)
	@if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then \
		echo "system-deps: mosquitto present"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "system-deps: note: no apt-get here; install mosquitto by hand for the MQTT tests (they skip without it)"; \
	else \
		if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo -n"; fi; \
		{ $$sudo apt-get install -y --no-install-recommends mosquitto || \
		  { $$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends mosquitto; }; } \
			|| echo "system-deps: note: could not install mosquitto; the MQTT broker tests will skip"; \
	fi
	@# qemu-user: qemu-x86_64 -cpu Haswell runs onnxruntime's AVX2 kernels on a VNNI host (the
	@# accuracy gate and tests/convert/test_kernels.py check that path; they skip without it)
	@if command -v qemu-x86_64 >/dev/null 2>&1; then \
		echo "system-deps: qemu-user present"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "system-deps: note: no apt-get here; install qemu-user by hand for the AVX2 kernel checks (they skip without it)"; \
	else \
		if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo -n"; fi; \
		{ $$sudo apt-get install -y --no-install-recommends qemu-user || \
		  { $$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends qemu-user; }; } \
			|| echo "system-deps: note: could not install qemu-user; the AVX2 kernel checks will skip"; \
	fi

clean:
	rm -rf $(VENV) demo-out .pytest_cache build
