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

.PHONY: run test unit fuzz bench lint build clean

run: ## start the hub with the embedded defaults, the MOSIP mock and a demo client
	$(GO) run ./hub/cmd/crvshub serve --demo --with-mocks --data $(DATA) --addr $(ADDR)

test: lint unit fuzz ## everything CI runs

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
	$(GO) test -run '^$$' -bench . -benchtime 3s ./core/store/sqlite ./hub/durability ./hub/httpapi ./mappings ./hub/nationalid

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:" $$out; exit 1; fi
	$(GO) vet ./...

build:
	$(GO) build -o $(BIN) ./hub/cmd/crvshub

clean:
	rm -rf bin
