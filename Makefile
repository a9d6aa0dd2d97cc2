# Watershed developer targets. `make run` and `make test` are the two commands in the README.
GO ?= go

.PHONY: run test check generate build bench bench-lineage bench-lineage-small frontend check-frontend test-ui test-real test-distributed check-compose

run: ## run the server on the embedded store (./data)
	$(GO) run ./cmd/watershed serve

test: ## run every test: the Go suite, then the web UI's component and browser tests (when Node and Chromium are installed)
	$(GO) test ./...
	@if command -v npm >/dev/null 2>&1 && [ -x /usr/bin/chromium ]; then $(MAKE) --no-print-directory test-ui; \
	else echo "make test: skipping the web UI tests: they need Node 20 (npm) and /usr/bin/chromium (apt-get install chromium)"; fi

build: ## build bin/watershed
	$(GO) build -o bin/watershed ./cmd/watershed

generate: ## regenerate gqlgen code from schema.graphql
	$(GO) generate ./...

check: ## formatting, vet, and generated code is current
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) generate ./...
	@git diff --exit-code -- graph schema.graphql || (echo "generated code is stale: run 'make generate' and commit"; exit 1)

bench: ## store benchmarks at 1M entities (prints a table)
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./catalog/embedded/

bench-lineage: ## lineage bars at 1M assets / 5M edges vs PostgreSQL (JSON=file writes the figures)
	$(GO) run ./bench/lineage $(if $(JSON),-json $(JSON))

bench-lineage-small: ## the same at 100,000 assets
	$(GO) run ./bench/lineage -assets 100000 $(if $(JSON),-json $(JSON))

frontend: ## rebuild the web UI into frontend/dist (needs Node; the build is committed)
	cd frontend && npm ci --no-audit --no-fund && npm run build

check-frontend: frontend ## the committed web UI build and typed client are current
	@out=$$(git status --porcelain -- frontend); if [ -n "$$out" ]; then echo "frontend build is stale: run 'make frontend' and commit"; echo "$$out"; git diff --stat -- frontend; exit 1; fi

test-ui: ## web UI tests: Vitest components, then Chromium end to end against watershed demo
	cd frontend && npm ci --no-audit --no-fund && npm test && npm run e2e

test-real: ## start real Kafka, Connect+Debezium, Apicurio, PostgreSQL, Neo4j (infra/up) and run every real-server test verbosely; fails if a server cannot start
	GO=$(GO) bash infra/test-real

test-distributed: ## two watershed serve replicas on the real Neo4j and Kafka of test-real (internal/distributed); fails if they cannot start
	GO=$(GO) bash infra/test-distributed

check-compose: ## validate docker-compose.yml with docker compose / docker-compose (installed from PyPI when missing)
	bash infra/compose-check
