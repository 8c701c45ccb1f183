# crvshub: the two commands that matter are `make run` and `make test`.
GO        ?= go
BIN       ?= bin/crvshub
DATA      ?= data
ADDR      ?= 127.0.0.1:8080
# -race everywhere tests run; CI sets CI=true and gets the same flags.
TESTFLAGS ?= -race -count=1 -timeout 15m
# Each target runs this many inputs in `make test` (an input count, not a duration: a duration
# deadline that lands in a slow input (an RSA decryption) makes go test report "context deadline
# exceeded"); longer runs: make fuzz FUZZTIME=5m
FUZZTIME  ?= 60000x
# package:FuzzTarget pairs run by `make test`
FUZZ_TARGETS ?= ./core:FuzzValidateDeclaration ./core:FuzzCanonicalJSON ./core:FuzzParseScope ./core/searchquery:FuzzParseSearch ./mappings:FuzzMap ./adapters/mosip/mosipcrypto:FuzzDecryptCredential

# every package that has benchmarks
BENCH_PKGS = $(shell git grep -l '^func Benchmark' -- '*_test.go' 2>/dev/null | xargs -n1 dirname | sort -u | sed 's|^|./|')
# events in the search benchmarks' data (bench-smoke: small; make bench: 100,000)
SMOKE_EVENTS ?= 1000

.PHONY: run test unit fuzz bench bench-smoke lint build clean

run: ## start the hub with the embedded defaults, the MOSIP mock and a demo client
	$(GO) run ./hub/cmd/crvshub serve --demo --with-mocks --data $(DATA) --addr $(ADDR)

test: lint unit fuzz bench-smoke ## everything CI runs

unit:
	$(GO) test $(TESTFLAGS) ./...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		if $(GO) test -list "^$$fn$$" $$pkg | grep -qx "$$fn"; then \
			echo "fuzz $$pkg $$fn for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1s $$pkg; \
		else echo "fuzz target $$fn not found in $$pkg" >&2; exit 1; fi; \
	done

bench: ## benchmarks (ratios against bare baselines measured in the same run)
	$(GO) test -run '^$$' -bench . -benchtime 3s -timeout 60m $(BENCH_PKGS)

bench-smoke: ## every benchmark once (-benchtime 1x) on small data: each compiles, runs and passes its checks
	CRVSHUB_BENCH_EVENTS=$(SMOKE_EVENTS) $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 15m $(BENCH_PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:" $$out; exit 1; fi
	$(GO) vet ./...

build:
	$(GO) build -o $(BIN) ./hub/cmd/crvshub

clean:
	rm -rf bin
