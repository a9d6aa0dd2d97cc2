// Package crawlstores holds BenchmarkCrawlStores, which crawls one large
// kfake cluster and reconciles it into the embedded store and into the real
// Neo4j in the same run (issue 12 item 7). It has no code besides the
// benchmark; it lives here because bench/... may import both a crawler and
// a store (internal/archtest).
package crawlstores
