# The two commands a newcomer needs:
#   make demo   runs the demo (brings its own database)
#   make test   installs MariaDB where it can, lints, and runs every test with -race

GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
TEST_TIMEOUT ?= 20m

.PHONY: test deps lint unit examples demo bench fuzz isolation

test: deps lint unit examples

deps:
	@bash scripts/install-deps.sh

lint:
	@echo "== gofmt"; out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@echo "== go vet"; $(GO) vet ./...
	@echo "== staticcheck"; $(GO) run $(STATICCHECK) ./...
	@if [ -f examples/go.mod ]; then cd examples && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...; fi

unit:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

examples:
	@if [ -f examples/go.mod ]; then cd examples && $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...; fi

demo:
	cd examples && $(GO) run ./demo

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	@bash scripts/fuzz-all.sh

# The differential isolation suite against rdsmux (driver and listener),
# one round; ISOLATION=10m soaks.
ISOLATION ?= 0s
isolation:
	RDSMUX_ISOLATION=$(ISOLATION) $(GO) test -race -count=1 -run 'TestDifferential' -v ./isolation/
