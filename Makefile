SHELL := /bin/bash

# Lambkin: `make run` starts the server, `make test` runs the whole test suite.
# Both install what is missing first (Debian packages, npm packages from the lock file).
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= $(ASAN_BUILD)
FUZZ_SECONDS ?= 20
JOBS       ?= 2
DATA       ?= lambkin-data
LISTEN     ?= 127.0.0.1:9001
# ccache: objects shared between clones and worktrees of this repository on one machine.
export CCACHE_BASEDIR := $(abspath .)
export CCACHE_NOHASHDIR := 1

.PHONY: deps build run test test-unit test-e2e test-e2e-postgres test-sanitize asan-build fuzz fuzz-build bench soak deb deb-smoke lint format tidy clean

deps:
	@scripts/install-deps.sh

# Release, as packagers build (BUILD_TYPE=RelWithDebInfo or Debug for debugging); CI builds and
# tests this one.
BUILD_TYPE ?= Release

# The built-in runtimes: OCI layouts made from the pinned Debian packages in runtimes/*/
# (downloaded once into ~/.cache/lambkin; a build whose inputs did not change is reused).
RUNTIMES := $(wildcard runtimes/*/runtime.json)

# The web console (console/, Vite; npm packages from console/package-lock.json) goes to
# $(BUILD)/console, where `lambkin serve` finds it; rebuilt only when its inputs change.
build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > /dev/null
	cmake --build $(BUILD) -j$(JOBS)
	$(BUILD)/src/lambkin runtime build --quiet --output $(BUILD)/runtimes $(dir $(RUNTIMES))
	scripts/build-console.sh $(BUILD)/console

run: build
	$(BUILD)/src/lambkin serve --data $(DATA) --listen $(LISTEN)

# The end-to-end suite runs twice: on the embedded SQLite store and on PostgreSQL.
test: lint test-unit test-e2e test-e2e-postgres

# $(call with-postgres,DIR) starts a throwaway PostgreSQL 15 server in DIR (scripts/pg-test-server.sh,
# after stopping any leftover), sets LAMBKIN_TEST_POSTGRES to its base URL (and
# LAMBKIN_TEST_POSTGRES_DIR to DIR, for tests that restart it) for the rest of the
# recipe line and stops it when the line ends, keeping the line's exit status.
PG_TEST_SERVER := $(abspath scripts/pg-test-server.sh)
with-postgres = $(PG_TEST_SERVER) stop $(1) && url=$$($(PG_TEST_SERVER) start $(1)) && \
  trap '$(PG_TEST_SERVER) stop $(1)' EXIT && export LAMBKIN_TEST_POSTGRES=$$url \
  LAMBKIN_TEST_POSTGRES_DIR=$(1) && \
  echo "LAMBKIN_TEST_POSTGRES=$$url" &&

# Unit tests that need PostgreSQL read LAMBKIN_TEST_POSTGRES (and skip without it).
test-unit: build
	$(call with-postgres,$(abspath $(BUILD))/pg-test-unit) cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-e2e: build
	@scripts/install-deps.sh --with-npm
	cd tests && LAMBKIN_BIN=$(abspath $(BUILD))/src/lambkin npm test

# The same suite, every server on a database of its own in a throwaway PostgreSQL 15 server.
test-e2e-postgres: build
	@scripts/install-deps.sh --with-npm
	$(call with-postgres,$(abspath $(BUILD))/pg-test) cd tests && LAMBKIN_BIN=$(abspath $(BUILD))/src/lambkin npm test

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer: the unit tests with
# PostgreSQL, as test-unit runs them; the end-to-end suite on SQLite only (a second sanitized run
# on PostgreSQL would double its time).
# It uses the built-in runtimes `make build` made (they are data, not code under test).
test-sanitize: build asan-build
	$(call with-postgres,$(abspath $(ASAN_BUILD))/pg-test-unit) cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(abspath scripts/lsan-suppressions.txt) ctest --output-on-failure -j$(JOBS)
	@scripts/install-deps.sh --with-npm
	cd tests && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(abspath scripts/lsan-suppressions.txt) LAMBKIN_BIN=$(abspath $(ASAN_BUILD))/src/lambkin LAMBKIN_RUNTIMES_DIR=$(abspath $(BUILD))/runtimes npm test

# The sanitized build (no benches), with clang: AddressSanitizer + UndefinedBehaviorSanitizer on
# everything, the unit tests, and the libFuzzer targets in the same tree (its code carries
# libFuzzer's coverage instrumentation as well), so one compilation serves `make test-sanitize`
# and `make fuzz`. No `deps`: CI runs it beside `make test`, after `make build` installed
# everything. The console and the runtimes are the main build's (data, not code under test).
asan-build:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug -DLAMBKIN_SANITIZE=ON \
	  -DLAMBKIN_FUZZ=ON -DLAMBKIN_BUILD_BENCH=OFF -DLAMBKIN_RUNTIMES_DIR=$(abspath $(BUILD))/runtimes \
	  -DLAMBKIN_CONSOLE_DIR=$(abspath $(BUILD))/console
	cmake --build $(ASAN_BUILD) -j$(JOBS)

# A short libFuzzer run of every parser target, seeded from fuzz/corpus/.
FUZZERS = http_target function_name zip_package lambda_api insight_rule filter_pattern sigv4 policy session_token oci_documents \
  package_metadata
fuzz-build: asan-build

fuzz: deps fuzz-build
	@for f in $(FUZZERS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$f && cp -n fuzz/corpus/$$f/* $(FUZZ_BUILD)/corpus/$$f/ 2>/dev/null; \
	  echo "fuzzing $$f for $(FUZZ_SECONDS)s"; \
	  $(FUZZ_BUILD)/fuzz/$${f}_fuzzer -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=4096 -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/$$f- $(FUZZ_BUILD)/corpus/$$f \
	    > $(FUZZ_BUILD)/$$f.log 2>&1 \
	    && grep -E "^stat::number_of_executed_units" $(FUZZ_BUILD)/$$f.log \
	    || { tail -n 60 $(FUZZ_BUILD)/$$f.log; exit 1; }; \
	done

bench: build
	$(BUILD)/bench/http_throughput_bench --lambkin $(BUILD)/src/lambkin
	$(BUILD)/bench/invoke_bench --lambkin $(BUILD)/src/lambkin --bootstrap $(BUILD)/bench/minimal_bootstrap
	$(BUILD)/bench/sweep_bench
	$(call with-postgres,$(abspath $(BUILD))/pg-bench) \
	  $(BUILD)/bench/sweep_bench --store $$url && \
	  $(BUILD)/bench/cluster_bench --store $$url --lambkin $(BUILD)/src/lambkin \
	    --bootstrap $(BUILD)/bench/minimal_bootstrap --runtimes $(BUILD)/runtimes
	$(BUILD)/bench/insights_bench
	$(BUILD)/bench/compliance_report_bench
	$(BUILD)/bench/package_inspect_bench
	$(BUILD)/bench/auth_bench --lambkin $(BUILD)/src/lambkin
	$(BUILD)/bench/runtime_bench --lambkin $(BUILD)/src/lambkin --runtimes $(BUILD)/runtimes --definitions runtimes
	@scripts/install-deps.sh --with-npm
	node bench/image_pull_bench.mjs --lambkin $(BUILD)/src/lambkin --runtimes $(BUILD)/runtimes
	node bench/layers_bench.mjs --lambkin $(BUILD)/src/lambkin --runtimes $(BUILD)/runtimes
	node bench/function_url_bench.mjs --lambkin $(BUILD)/src/lambkin --runtimes $(BUILD)/runtimes
	cd tests && node ../bench/console_load_bench.mjs --lambkin $(abspath $(BUILD))/src/lambkin --runtimes $(abspath $(BUILD))/runtimes

# The Debian package, lambkin_<version>_<arch>.deb in $(BUILD) (cmake/Packaging.cmake, packaging/).
deb: build
	cd $(BUILD) && cpack -G DEB

# Installs that package on this machine (as root), checks its unit with systemd-analyze, starts
# the server exactly as the unit does (its user, ExecStart and environment), calls it, stops it
# with SIGTERM (exit 0) and purges the package again.
deb-smoke: deb
	scripts/deb-smoke.sh $(BUILD)

# The 10-minute mixed load and soak (bench/soak_bench.mjs): not part of `make bench`.
soak: build
	@scripts/install-deps.sh --with-npm
	cd tests && node ../bench/soak_bench.mjs --lambkin $(abspath $(BUILD))/src/lambkin --runtimes $(abspath $(BUILD))/runtimes

lint:
	@command -v clang-format >/dev/null || { echo "clang-format missing"; exit 1; }
	clang-format --dry-run --Werror $$(git ls-files 'src/*.cc' 'src/*.h' 'bench/*.cc')

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h' 'bench/*.cc')

# clang-tidy on every source; a source whose whole translation unit passed before is not checked
# again (scripts/tidy-cached.py remembers passes in ~/.cache/lambkin/tidy, as ccache does builds).
tidy: build
	/usr/bin/python3 scripts/tidy-cached.py $(BUILD) $(JOBS) $$(git ls-files 'src/*.cc' | grep -v _test.cc)

clean:
	$(PG_TEST_SERVER) stop $(abspath $(BUILD))/pg-test
	$(PG_TEST_SERVER) stop $(abspath $(BUILD))/pg-test-unit
	$(PG_TEST_SERVER) stop $(abspath $(BUILD))/pg-bench
	$(PG_TEST_SERVER) stop $(abspath $(ASAN_BUILD))/pg-test-unit
	rm -rf $(BUILD) $(ASAN_BUILD)
