# Everything starts here: `make demo` and `make test` install what is
# missing (Debian packages only), build, and run.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
GOCRATE := $(BUILD_DIR)/gocrate
CTEST_ARGS ?=

.PHONY: all deps build demo test unit-test bench bench-registry format clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR)

demo: build
	./scripts/demo.sh $(GOCRATE)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 1800 $(CTEST_ARGS)

unit-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit

bench: build
	./bench/run.sh $(GOCRATE)

bench-registry: build
	./bench/bench_registry.sh $(GOCRATE)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR)
