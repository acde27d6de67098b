# Everything starts here: `make demo` and `make test` install what is
# missing (Debian packages only), build, and run. `make demo` installs only
# what building and the demo need; `make test` adds the peers the tests use.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
GOCRATE := $(BUILD_DIR)/gocrate
CTEST_ARGS ?=

.PHONY: all deps deps-demo deps-test build demo test unit-test bench bench-registry format clean

all: build

deps: deps-test

deps-demo:
	@./scripts/install-deps.sh demo

deps-test:
	@./scripts/install-deps.sh test

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps-demo $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR)

# The demo needs gocrate itself, not the unit tests.
demo: deps-demo $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) --target gocrate
	./scripts/demo.sh $(GOCRATE)

test: deps-test build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 1800 $(CTEST_ARGS)

unit-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit

bench: deps-test build
	./bench/run.sh $(GOCRATE)

bench-registry: deps-test build
	./bench/bench_registry.sh $(GOCRATE)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR)
