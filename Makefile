# pamedge: `make demo` runs the main job on bundled recordings, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every extra, so tests of training, conversion and sync can run.  torch==2.13.0 is a local
# CPU wheel and must be named in the same pip command, or pip fetches a CUDA build.
EXTRAS := onnx,tflite,train,convert,sync,live,plot,dask,dev

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2"
	$(BIN)/python -m pip install --quiet "torch==2.13.0" -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: install
	rm -rf demo-out
	$(BIN)/edge-detect examples/recordings -o demo-out --no-model \
		--config firmware-config/deployments/generic.yaml; test $$? -le 1
	@echo "outputs in demo-out/: detections.csv levels.csv raven/ run.json"

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/bench_frontend.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache
