# Watershed developer targets. `make run` and `make test` are the two commands in the README.
GO ?= go

.PHONY: run test check generate build bench test-real

run: ## run the server on the embedded store (./data)
	$(GO) run ./cmd/watershed serve

test: ## run every test
	$(GO) test ./...

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

test-real: ## start real Kafka, Connect+Debezium, Apicurio, PostgreSQL, Neo4j (infra/up) and run every real-server test verbosely; fails if a server cannot start
	GO=$(GO) bash infra/test-real
