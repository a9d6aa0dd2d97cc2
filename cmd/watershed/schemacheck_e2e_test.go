package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/internal/demo"
)

// runCheck runs `watershed schema-check` and returns its exit status and
// output.
func runCheck(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"schema-check"}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("run schema-check: %v", err)
	return 0, "", ""
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSchemaCheckCommand crawls the demo estate, serves it, and gates
// candidate schemas for the customers CDC topic through the built binary,
// as a producer's CI job would.
func TestSchemaCheckCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary against the demo estate; skipped in -short mode")
	}
	estate, err := demo.Start(context.Background(), demo.Options{Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer estate.Close()
	time.Sleep(time.Second) // let the consumer groups join and commit
	bin := buildBinary(t)
	dataDir := t.TempDir()
	if out, err := exec.Command(bin, "crawl", "--config", writeDemoConfig(t, estate, ""), "--data-dir", dataDir).CombinedOutput(); err != nil {
		t.Fatalf("crawl: %v\n%s", err, out)
	}
	p := startServer(t, bin, dataDir, freePort(t))
	server := "http://" + p.addr

	current, err := os.ReadFile("../../internal/demo/schemas/customers-envelope.avsc")
	if err != nil {
		t.Fatal(err)
	}
	// Dropping the e-mail column from the envelope's row record.
	var kept []string
	for _, l := range strings.Split(string(current), "\n") {
		if !strings.Contains(l, `"name": "email"`) {
			kept = append(kept, l)
		}
	}
	dropEmail := writeFile(t, "drop-email.avsc", strings.Join(kept, "\n"))
	code, out, errOut := runCheck(t, bin, "--server", server, "--subject", "cdc.shop.customers-value", "--file", dropEmail)
	if code != checkBreaking {
		t.Fatalf("dropping email: exit %d, want %d\n%s%s", code, checkBreaking, out, errOut)
	}
	for _, w := range []string{
		"cdc.shop.customers-value (urn:subject:prod-sr/cdc.shop.customers-value): AVRO, latest version 1",
		"compatible under BACKWARD",
		"CANNOT read data written with the candidate",
		"REMOVED", "after.email", "before.email",
		// The JDBC sink maps after.email into the staging table's column.
		"BREAKING  CONNECTOR", "urn:connector:prod-connect/dwh-jdbc-sink",
		"urn:table:postgres://dwh.acme.internal:5432/dwh.staging.customers",
		// A consumer group reading the topic has no field lineage.
		"urn:group:prod/analytics (no field lineage)",
		"consumer(s) would break",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("dropping email: output lacks %q:\n%s", w, out)
		}
	}

	// The same as JSON, for scripts.
	code, out, errOut = runCheck(t, bin, "--server", server, "--subject", "cdc.shop.customers-value", "--file", dropEmail, "--json", "--type", "avro")
	if code != checkBreaking {
		t.Fatalf("--json: exit %d\n%s%s", code, out, errOut)
	}
	var ans checkAnswer
	if err := json.Unmarshal([]byte(out), &struct {
		R *checkAnswer `json:"schemaChangeImpact"`
	}{&ans}); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	verdicts := map[string]string{}
	for _, c := range ans.Consumers {
		verdicts[c.Asset.URN] = c.Verdict
	}
	if verdicts["urn:connector:prod-connect/dwh-jdbc-sink"] != "BREAKING" || verdicts["urn:group:prod/analytics"] != "BREAKING" || !ans.Breaking {
		t.Errorf("--json verdicts %v", verdicts)
	}
	// The sink's other topics' tables are not its business here.
	if v, ok := verdicts["urn:table:postgres://dwh.acme.internal:5432/dwh.staging.orders"]; ok && v == "BREAKING" {
		t.Errorf("staging.orders is BREAKING, but nothing of it derives from customers: %v", verdicts)
	}

	// An optional field added: safe for everyone, exit 0.
	added := strings.Replace(string(current), `{"name": "id", "type": "long"},`,
		`{"name": "id", "type": "long"}, {"name": "nickname", "type": ["null", "string"], "default": null},`, 1)
	code, out, errOut = runCheck(t, bin, "--server", server, "--subject", "cdc.shop.customers-value", "--file", writeFile(t, "add.avsc", added))
	if code != checkPassed || !strings.Contains(out, "ADDED") || !strings.Contains(out, "after.nickname") || !strings.Contains(out, "No consumer would break") || strings.Contains(out, "BREAKING") {
		t.Errorf("adding a field: exit %d\n%s%s", code, out, errOut)
	}

	// An unparseable candidate: the server names the parse error.
	code, _, errOut = runCheck(t, bin, "--server", server, "--subject", "cdc.shop.customers-value", "--file", writeFile(t, "bad.avsc", `{"type": "record", "name": "X", "fields": [{"name": "a", "type": "strin"}]}`))
	if code != checkInvalid || !strings.Contains(errOut, "does not parse") || !strings.Contains(errOut, "INVALID_ARGUMENT") {
		t.Errorf("bad schema: exit %d: %s", code, errOut)
	}
	// An unknown subject, and a server that is not there.
	if code, _, errOut = runCheck(t, bin, "--server", server, "--subject", "nope-value", "--file", dropEmail); code != checkServer || !strings.Contains(errOut, "NOT_FOUND") {
		t.Errorf("unknown subject: exit %d: %s", code, errOut)
	}
	if code, _, errOut = runCheck(t, bin, "--server", "http://"+freePort(t), "--subject", "s", "--file", dropEmail, "--timeout", "5s"); code != checkServer {
		t.Errorf("no server: exit %d: %s", code, errOut)
	}
	// Usage errors.
	for _, args := range [][]string{
		{"--subject", "s", "--file", dropEmail},
		{"--server", server, "--subject", "s", "--file", filepath.Join(t.TempDir(), "missing.avsc")},
		{"--server", "ftp://x", "--subject", "s", "--file", dropEmail},
		{"--server", server, "--subject", "s", "--file", dropEmail, "--type", "XML"},
	} {
		if code, _, errOut := runCheck(t, bin, args...); code != checkUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, checkUsage, errOut)
		}
	}
}
