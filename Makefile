# The two commands a newcomer needs:
#   make demo   runs the demo (brings its own database)
#   make test   installs MariaDB where it can, lints, and runs every test with -race
#
# The repository holds several Go modules: the library (the root, what an
# importer gets in its module graph) and, each with its own go.mod and a
# replace directive pointing at the root, examples/, reliability/ (the
# reliability suite) and bench/ (benchmark tooling). lint and test cover
# them all.

GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
TEST_TIMEOUT ?= 20m

# The modules besides the root, each tested by its own target: make
# test-examples, test-reliability, test-bench.
MODULES := examples reliability bench

.PHONY: test deps lint unit modules $(addprefix test-,$(MODULES)) examples demo bench fuzz isolation

test: deps lint unit modules

deps:
	@bash scripts/install-deps.sh

lint:
	@echo "== gofmt"; out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in . $(MODULES); do \
		echo "== go vet, staticcheck: $$m" && (cd $$m && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...) || exit 1; \
	done

unit:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

modules: $(addprefix test-,$(MODULES))

$(addprefix test-,$(MODULES)): test-%:
	cd $* && $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

examples: test-examples

demo:
	cd examples && $(GO) run ./demo

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	@bash scripts/fuzz-all.sh

# The differential isolation suite against rdsmux (driver and listener),
# one round; ISOLATION=10m soaks each front end for 10 minutes. The soak
# bounds itself, so go test's own timeout (10m by default, shorter than
# two soaks) is off.
ISOLATION ?= 0s
isolation:
	RDSMUX_ISOLATION=$(ISOLATION) $(GO) test -race -count=1 -timeout 0 -run 'TestDifferential' -v ./isolation/
