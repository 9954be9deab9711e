# Two commands do everything on a fresh machine with only python3:
#   make plan   - plan the built-in default scenario (writes out/plan/deployment.json and plan.png)
#   make test   - lint (ruff), type-check (mypy) and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-core
FULL   := $(VENV)/.installed-all

.PHONY: plan test lint bench clean venv

# The core (what `make plan` needs) ...
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# ... and every extra whose tests run in `make test` (rl: the DQN agent; mobility: SUMO; cluster: Ray; ns3: the network
# simulator, whose bindings compile on install, about 3 min; rt: the ray tracer,
# which also needs the LLVM 16+ shared library on a CPU; the report's browser test needs Debian's
# chromium and chromium-driver).
$(FULL): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,rl,rt,mobility,ns3,cluster]'
	./scripts/ensure-system-libs.sh
	./scripts/ensure-chromium.sh
	touch $(FULL)

venv: $(STAMP)

plan: $(STAMP)
	$(BIN)/skycell plan --out out/plan --seed 0

lint: $(FULL)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

bench: $(FULL)
	$(BIN)/python benchmarks/bench_placement.py --seeds 50 --workers 2
	$(BIN)/python benchmarks/bench_los.py
	$(BIN)/python benchmarks/bench_paper004.py
	$(BIN)/python benchmarks/bench_paper002.py --sweep
	$(BIN)/python benchmarks/bench_paper003.py
	$(BIN)/python benchmarks/bench_ns3.py --figures docs/images
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_flight.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
