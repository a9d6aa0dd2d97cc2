// Package archtest enforces the import rules of DESIGN.md §2: stage packages
// (crawlers, lineage, policy, webhooks) never import each other, crawler
// plugins never import each other, and the catalog is standard library only.
// It reads the real import graph with `go list`, so a wrong arrow fails the
// build's tests instead of waiting for a reviewer.
package archtest

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/watershed-data/watershed"

// rule says which project packages pkg may import (production code only;
// tests may use anything). Patterns: "x" is exactly x, "x/..." is x and
// everything below it, "self/..." is the package's own subtree.
type rule struct {
	pkg      string
	allow    []string
	stdlib   bool // only the standard library besides allow
	siblings bool // for plugin folders: pkg/X may not import pkg/Y
}

var rules = []rule{
	{pkg: "catalog", stdlib: true},
	{pkg: "catalog/catalogtest", allow: []string{"catalog"}, stdlib: true},
	{pkg: "catalog/...", allow: []string{"catalog"}, siblings: true},
	{pkg: "changelog/...", allow: []string{"catalog", "changelog/..."}},
	{pkg: "schemaparse/...", allow: []string{"catalog", "schemaparse/..."}},
	{pkg: "crawlers", allow: []string{"catalog"}},
	{pkg: "crawlers/...", allow: []string{"catalog", "crawlers", "schemaparse/..."}, siblings: true},
	{pkg: "lineage/...", allow: []string{"catalog/...", "changelog/...", "schemaparse/...", "lineage/..."}},
	{pkg: "policy/...", allow: []string{"catalog/...", "changelog/...", "schemaparse/...", "policy/..."}},
	{pkg: "webhooks/...", allow: []string{"catalog/...", "changelog/...", "webhooks/..."}},
	{pkg: "graph/...", allow: []string{"catalog", "changelog", "crawlers", "schemaparse", "lineage", "policy", "webhooks", "graph/..."}},
	{pkg: "config", allow: []string{"catalog", "crawlers"}},
	{pkg: "frontend", stdlib: true},
	{pkg: "internal/...", allow: []string{"..."}},
	{pkg: "cmd/...", allow: []string{"..."}},
	{pkg: "bench/...", allow: []string{"..."}},
}

// pending lists arrows that break a rule today and are being removed; each
// names why. The test logs them instead of failing. Keep it empty.
var pending = map[string]string{}

func match(pattern, pkg string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

type listed struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH; the import rules cannot be read")
	}
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if rel == p.ImportPath || rel == "" {
			continue
		}
		r, ok := ruleFor(rel)
		if !ok {
			t.Errorf("package %s has no import rule: add one to internal/archtest (DESIGN.md §2 names every folder's arrows)", rel)
			continue
		}
		checked++
		for _, imp := range p.Imports {
			dep, own := strings.CutPrefix(imp, module+"/")
			if !own {
				if r.stdlib && isThirdParty(imp) {
					t.Errorf("%s imports %s: it may use the standard library only", rel, imp)
				}
				continue
			}
			if dep == rel || strings.HasPrefix(dep, "internal/archtest") {
				continue
			}
			if why, ok := pending[rel+" -> "+dep]; ok {
				t.Logf("pending: %s imports %s (%s)", rel, dep, why)
				continue
			}
			if r.siblings && sibling(r.pkg, rel, dep) {
				t.Errorf("%s imports its sibling %s: plugins meet in the catalog, never in each other", rel, dep)
				continue
			}
			if !allowed(r, rel, dep) {
				t.Errorf("%s may not import %s (allowed: %v)", rel, dep, r.allow)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no project package was checked")
	}
}

func ruleFor(pkg string) (rule, bool) {
	for _, r := range rules {
		if match(r.pkg, pkg) {
			return r, true
		}
	}
	return rule{}, false
}

func allowed(r rule, pkg, dep string) bool {
	for _, a := range r.allow {
		if match(a, dep) {
			return true
		}
	}
	// A package may always import below itself (generated code, models).
	return strings.HasPrefix(dep, pkg+"/")
}

// sibling reports whether pkg and dep lie in different child folders of the
// plugin folder base ("crawlers/connect" and "crawlers/kafka").
func sibling(pattern, pkg, dep string) bool {
	base := strings.TrimSuffix(pattern, "/...")
	top := func(p string) string {
		rest, ok := strings.CutPrefix(p, base+"/")
		if !ok {
			return ""
		}
		child, _, _ := strings.Cut(rest, "/")
		return child
	}
	a, b := top(pkg), top(dep)
	return a != "" && b != "" && a != b
}

// isThirdParty reports whether an import path names a module outside the
// standard library (its first element has a dot).
func isThirdParty(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return strings.Contains(first, ".")
}

func TestRulesCatchWrongArrows(t *testing.T) {
	cases := []struct {
		pkg, dep string
		ok       bool
	}{
		{"crawlers/connect", "crawlers/kafka", false},
		{"crawlers/connect", "crawlers", true},
		{"crawlers/schemaregistry", "schemaparse", true},
		{"lineage", "crawlers/kafka", false},
		{"lineage", "policy", false},
		{"policy", "lineage", false},
		{"webhooks", "policy", false},
		{"lineage", "changelog", true},
		{"catalog", "changelog", false},
		{"catalog/embedded", "catalog", true},
		{"catalog/neo4j", "catalog/embedded", false},
		{"graph", "lineage", true},
		{"cmd/watershed", "webhooks", true},
	}
	for _, c := range cases {
		r, ok := ruleFor(c.pkg)
		if !ok {
			t.Fatalf("no rule for %s", c.pkg)
		}
		got := !(r.siblings && sibling(r.pkg, c.pkg, c.dep)) && allowed(r, c.pkg, c.dep)
		if got != c.ok {
			t.Errorf("%s → %s allowed = %v, want %v", c.pkg, c.dep, got, c.ok)
		}
	}
}
