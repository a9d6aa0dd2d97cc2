package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/watershed-data/watershed/config"
	"github.com/watershed-data/watershed/internal/demo"
	"github.com/watershed-data/watershed/webhooks"
)

// cmdDemo runs the server against an in-process demo estate: a Kafka
// cluster, a schema registry and a Kafka Connect worker of an e-commerce
// platform with live traffic, crawled on a schedule.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) (err error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "HTTP listen address")
	dataDir := fs.String("data-dir", "", "data directory (default: a fresh temporary directory, removed on exit)")
	schedule := fs.String("schedule", "@every 30s", "crawl schedule of the demo sources")
	interval := fs.Duration("traffic-interval", 500*time.Millisecond, "time between rounds of demo traffic")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return usage(err)
	}
	if fs.NArg() > 0 {
		return usage(fmt.Errorf("unexpected arguments %v", fs.Args()))
	}
	logger := newLogger(stderr, *logLevel, "text")
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "watershed-demo-")
		if err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		defer func() {
			if rerr := os.RemoveAll(tmp); rerr != nil {
				err = errors.Join(err, fmt.Errorf("remove demo data: %w", rerr))
			}
		}()
		dir = tmp
	}
	// Fail fast on a busy port, before starting the estate.
	probe, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	probe.Close()
	estate, err := demo.Start(ctx, demo.Options{Logger: logger, Interval: *interval})
	if err != nil {
		return fmt.Errorf("start demo estate: %w", err)
	}
	defer estate.Close()

	cfg := config.Defaults()
	cfg.Listen, cfg.DataDir, cfg.Log.Level = *listen, dir, *logLevel
	// A local demo: webhooks may reach receivers on this machine.
	cfg.Webhooks.Allow = []string{"127.0.0.0/8", "::1/128"}
	cfg.Policies, cfg.PolicyEngine.Sweep = demoPolicies(), "@every 1m"
	for _, s := range estate.SourceSettings(*schedule) {
		src := config.Source{Name: s["name"].(string), Kind: s["kind"].(string), Schedule: s["schedule"].(string), Settings: map[string]any{}}
		for k, v := range s {
			if k != "name" && k != "kind" && k != "schedule" {
				src.Settings[k] = v
			}
		}
		cfg.Sources = append(cfg.Sources, src)
	}
	if err := cfg.Validate(builtinKinds()); err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	srv, err := newServer(cfg, logger)
	if err != nil {
		return err
	}
	go func() {
		select {
		case <-srv.opened:
		case <-ctx.Done():
			return
		}
		select {
		case <-srv.crawls.Started():
		case <-ctx.Done():
			return
		}
		url := "http://" + srv.listener.Addr().String()
		if err := pushDemoLineage(ctx, url); err != nil {
			logger.Warn("post the demo's topology and OpenLineage event", "err", err)
		}
		if err := addDemoWebhook(ctx, srv); err != nil {
			logger.Warn("add the demo's example Slack webhook", "err", err)
		}
		fmt.Fprintf(stdout, `
Watershed demo is ready: %s
  GraphQL      %s/graphql
  Kafka        %v (in process)
  Registry     %s
  Connect      %s
Try:
  curl -s %s/graphql -H 'Content-Type: application/json' \
    -d '{"query":"{ search(query: \"customers\") { totalCount edges { node { urn kind name } } } }"}'
  curl -s %s/graphql -H 'Content-Type: application/json' \
    -d '{"query":"{ violations { totalCount edges { node { policy severity message } } } }"}'
Stop with Ctrl-C.
`, url, url, estate.Bootstrap, estate.RegistryURL(), estate.ConnectURL(), url, url)
	}()
	if err := srv.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// demoPolicies are the policies the demo ships. The estate's legitimate PII
// readers and sinks are allowed, so what the demo shows are real findings:
// the analytics notebook (group and ACL principal) reading customer data,
// PII kept longer than a week, the warehouse staging tables and the S3 lake
// receiving PII.
func demoPolicies() []config.Policy {
	return []config.Policy{
		{Builtin: "pii-consumer-allowlist", Params: map[string]any{"allow": []any{
			"fraud-detector", "order-enricher", "email-notifier", "connect-*", // consumer groups
			"User:fraud-detector", "User:order-enricher", "User:connect", // ACL principals
		}}},
		{Builtin: "pii-retention", Params: map[string]any{"max": "168h"}},
		{Builtin: "compatibility-none-with-consumers"},
		{Builtin: "pii-sink-allowlist", Params: map[string]any{"allow": []any{"warehouse-snowflake-sink", "lake-s3-sink"}}},
		{Builtin: "schema-drift"},
		{Name: "no-pii-in-s3", Severity: "high", Description: "Datasets in S3 must not receive PII; the lake is only for pseudonymised data.",
			Condition: `asset.urn.startsWith("urn:dataset:s3://") && upstream(asset, 2).exists(u, "PII" in classifications(u))`,
			Scope:     config.PolicyScope{Kinds: []string{"DATASET"}}},
	}
}

// demoSlackWebhook names the example subscription the demo ships.
const demoSlackWebhook = "example: PII violations to Slack"

// addDemoWebhook adds a disabled Slack-format subscription to policy
// violations, as a starting point: point it at a real incoming-webhook URL
// with updateWebhook and enable it.
func addDemoWebhook(ctx context.Context, srv *server) error {
	for _, ep := range srv.hooks.Endpoints(ctx) {
		if ep.Name == demoSlackWebhook {
			return nil
		}
	}
	name, url, desc := demoSlackWebhook, "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
		"Disabled example. Set the URL of a Slack incoming webhook (updateWebhook) and enable it."
	slack, off := webhooks.FormatSlack, false
	_, _, err := srv.hooks.Create(ctx, webhooks.EndpointInput{
		Name: &name, URL: &url, Description: &desc, Types: []string{"policy.violation.*"}, Format: &slack, Enabled: &off,
		Filter: &webhooks.Filter{Classification: "PII"},
	})
	return err
}

// pushDemoLineage posts what the estate's operators would push: the Kafka
// Streams topology of order-enricher and an OpenLineage event of the Flink
// fraud-scoring job, then registers order-enricher's field lineage, which
// no crawler can see, through GraphQL.
func pushDemoLineage(ctx context.Context, base string) error {
	if err := pushDemoTopologyAndEvent(ctx, base); err != nil {
		return err
	}
	const add = `mutation($i: LineageInput!) { addLineage(input: $i) { from } }`
	for _, e := range demo.FieldLineage() {
		body, err := json.Marshal(map[string]any{"query": add, "variables": map[string]any{"i": map[string]any{"from": e[0], "to": e[1], "kind": "DERIVES", "transform": e[2]}}})
		if err != nil {
			return fmt.Errorf("encode field lineage: %w", err)
		}
		if err := postJSON(ctx, base+"/graphql", body, func(b []byte) error {
			var r struct{ Errors []struct{ Message string } }
			if err := json.Unmarshal(b, &r); err != nil {
				return err
			}
			if len(r.Errors) > 0 {
				return errors.New(r.Errors[0].Message)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("add field lineage %s -> %s: %w", e[0], e[1], err)
		}
	}
	return nil
}

// postJSON posts body to url and hands a 2xx answer to check.
func postJSON(ctx context.Context, url string, body []byte, check func([]byte) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s: %s", resp.Status, msg)
	}
	if check != nil {
		return check(msg)
	}
	return nil
}

func pushDemoTopologyAndEvent(ctx context.Context, base string) error {
	app, cluster, text := demo.StreamsTopology()
	topo, err := json.Marshal(map[string]string{"applicationId": app, "cluster": cluster, "topology": text})
	if err != nil {
		return fmt.Errorf("encode topology: %w", err)
	}
	for path, body := range map[string][]byte{"/api/v1/topologies": topo, "/api/v1/lineage": demo.OpenLineageEvent()} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("post %s: %w", path, err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("post %s: %w", path, err)
		}
		msg, rerr := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if rerr != nil {
			return fmt.Errorf("read %s answer: %w", path, rerr)
		}
		if resp.StatusCode >= 300 {
			return fmt.Errorf("post %s: %s: %s", path, resp.Status, msg)
		}
	}
	return nil
}
