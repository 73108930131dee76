# corematrix — build, test and run the kernel matrix.
#
#   make deps       install system packages (qemu, clang, llvm, libbpf-dev)
#   make install    install vmtest (static) into $(go env GOPATH)/bin, for the PATH
#   make test       lint + unit tests + end-to-end VM fault tests (fuzz seeds replayed),
#                   then ./probes inside kernel 6.1 via go test -exec 'vmtest exec' (no skips)
#   make fuzz       run every Go fuzz target for FUZZTIME (default 30s) each
#   make vmtest     run the compatibility suite on the default kernel matrix
#   make vmtest KERNELS=5.10,6.1,6.12
#   make vmtest KERNELS=6.1,6.1/arm64     a matrix may mix architectures
#   make vmtest ARCH=arm64                every kernel of KERNELS as arm64 (6.1 -> 6.1/arm64)
#   make corpus-check  fetch the corpus (Debian-built BPF objects pinned in corpus/pins.txt)
#                   into CORPUS_DIR and compare the prediction with real loads on CORPUS_KERNELS
#   make bench-vm   time floor, bare, trivial-payload and suite boots per kernel (BENCH_KERNELS, RUNS)
#
# Everything the Go binaries need is static (CGO_ENABLED=0): the vmtest binary
# is also the guest's /init, and harness.test runs inside the guest. `make
# build` also cross-builds both for the other architecture's guests
# (bin/linux-arm64/ on an x86 host): vmtest picks them by the kernel's
# architecture.

SHELL        := /bin/bash
GO           ?= go
BIN          ?= bin
KERNELS      ?= 5.10,6.1,6.12,6.18,latest
REPORT       ?= vmtest-report
JOBS         ?=
TIMEOUT      ?= 10m
VMTEST_FLAGS ?=
TEST_FLAGS   ?=
FUZZTIME     ?= 30s
# ARCH, when set, suffixes every kernel of KERNELS and BENCH_KERNELS that has
# no architecture yet (ARCH=arm64: 6.1 -> 6.1/arm64).
ARCH         ?=
HOST_ARCH    := $(shell $(GO) env GOARCH)
OTHER_ARCH   := $(if $(filter arm64,$(HOST_ARCH)),amd64,arm64)
comma        := ,
with_arch     = $(if $(ARCH),$(subst $(eval) ,$(comma),$(foreach k,$(subst $(comma), ,$(1)),$(if $(findstring /,$(k)),$(k),$(k)/$(ARCH)))),$(1))
CORE_OBJECT  := probes/tracer_x86_bpfel.o
BENCH_KERNELS ?= 5.10,6.1,latest
RUNS         ?= 5
# Without symbol table and DWARF (stack traces keep names and lines): vmtest
# is copied into every guest's initramfs as /init and harness.test rides
# along, and a smaller initramfs unpacks faster under TCG.
LDFLAGS      ?= -s -w

export CGO_ENABLED := 0

.PHONY: all deps generate generate-check build install test unit vmtest bench bench-vm fuzz lint clean corpus corpus-check

all: build

deps:
	bash scripts/install-deps.sh

generate:
	$(GO) generate ./probes/... ./harness/broken/... ./corereport/... ./argread/...

# Regenerate into a scratch copy and fail on any difference from what is committed.
generate-check:
	bash scripts/generate-check.sh

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/vmtest ./cmd/vmtest
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/tracer ./cmd/tracer
	$(GO) test -c -ldflags '$(LDFLAGS)' -o $(BIN)/harness.test ./harness
	GOARCH=$(OTHER_ARCH) $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/linux-$(OTHER_ARCH)/vmtest ./cmd/vmtest
	GOARCH=$(OTHER_ARCH) $(GO) test -c -ldflags '$(LDFLAGS)' -o $(BIN)/linux-$(OTHER_ARCH)/harness.test ./harness

# vmtest on the PATH, as the README's examples call it. Static, like
# bin/vmtest: it is also every guest's /init; its build for the other
# architecture's guests goes beside it (linux-ARCH/vmtest).
install:
	$(GO) install -ldflags '$(LDFLAGS)' ./cmd/vmtest
	dir=$$($(GO) env GOBIN); dir=$${dir:-$$($(GO) env GOPATH)/bin}; mkdir -p "$$dir/linux-$(OTHER_ARCH)" && \
		GOARCH=$(OTHER_ARCH) $(GO) build -ldflags '$(LDFLAGS)' -o "$$dir/linux-$(OTHER_ARCH)/vmtest" ./cmd/vmtest

test: deps lint build
	$(GO) test $(TEST_FLAGS) -timeout 30m ./...
	BIN=$(BIN) bash scripts/probes-vm.sh

# Searches for new failing inputs of the parsers that read untrusted bytes.
# `make test` only replays their seed corpora (f.Add and testdata/fuzz).
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash scripts/fuzz.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

vmtest: deps build
	$(BIN)/vmtest run --kernels '$(call with_arch,$(KERNELS))' --report $(REPORT) --timeout $(TIMEOUT) \
		$(if $(JOBS),--jobs $(JOBS)) --core-object $(CORE_OBJECT) $(VMTEST_FLAGS) \
		-- $(BIN)/harness.test -test.v

# A benchmark people run, not a timed test: medians of RUNS side-by-side boots.
bench-vm: deps build
	$(BIN)/vmtest bench --kernels '$(call with_arch,$(BENCH_KERNELS))' --runs $(RUNS) --report vmtest-bench \
		--timeout $(TIMEOUT) $(VMTEST_FLAGS) -- $(BIN)/harness.test -test.v

# The corpus: BPF objects Debian built and ships (corpus/pins.txt), fetched
# through the verified archive, never committed. corpus-check boots each of
# CORPUS_KERNELS once, loads and attaches every program alone and prints the
# agreement with the offline prediction per kernel (vmtest load's summary;
# the rows go to CORPUS_DIR/load-ARCH.json).
CORPUS_DIR     ?= corpus-objects
CORPUS_KERNELS ?= 5.10,6.1,6.12,latest
CORPUS_ARCH    ?= $(HOST_ARCH)
CORPUS_TIMEOUT ?= 90m
corpus_kernels = $(if $(filter $(HOST_ARCH),$(CORPUS_ARCH)),$(CORPUS_KERNELS),$(subst $(eval) ,$(comma),$(foreach k,$(subst $(comma), ,$(CORPUS_KERNELS)),$(k)/$(CORPUS_ARCH))))

corpus: build
	$(BIN)/vmtest corpus --arch $(CORPUS_ARCH) $(CORPUS_DIR) > $(CORPUS_DIR).list

corpus-check: corpus
	$(BIN)/vmtest load --kernels $(corpus_kernels) --timeout $(CORPUS_TIMEOUT) --format json \
		$$(cat $(CORPUS_DIR).list) > $(CORPUS_DIR)/load-$(CORPUS_ARCH).json; rc=$$?; \
		$(BIN)/vmtest load --summary --from $(CORPUS_DIR)/load-$(CORPUS_ARCH).json; exit $$rc

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	$(GO) fix -diff ./...
	$(GO) tool actionlint
	$(GO) tool actionlint examples/github/*.yml

clean:
	rm -rf $(BIN) $(REPORT) vmtest-bench
