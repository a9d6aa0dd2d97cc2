package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Exit statuses of schema-check, so that a CI job can tell a refused schema
// from a broken pipeline.
const (
	checkPassed   = 0 // the registry would accept it and no consumer breaks
	checkBreaking = 1 // a consumer would break, or the subject's level refuses it
	checkUsage    = 2 // bad command line or unreadable file
	checkServer   = 3 // the server could not answer (unreachable, auth, unknown subject, internal)
	checkInvalid  = 4 // the server rejected the input: an unparseable candidate, an ambiguous subject
)

const schemaCheckUsage = `Usage: watershed schema-check --server URL --subject SUBJECT --file FILE [flags]

Asks a Watershed server what registering the schema in FILE under SUBJECT would do: the field
diff against the latest version, the verdict under the subject's compatibility level, and for
every downstream consumer group, connector, job and sink BREAKING, UNKNOWN or SAFE.

Exit status: 0 the registry would accept it and no consumer would break; 1 a consumer would
break or the subject's compatibility level refuses it; 2 usage error; 3 the server could not
answer (unreachable, authentication, unknown subject); 4 the server rejected the input (the
candidate does not parse, the subject name is ambiguous, the schema type differs).

Flags:
`

// cmdSchemaCheck runs `watershed schema-check` and returns its exit status.
func cmdSchemaCheck(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	fs := flag.NewFlagSet("schema-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, schemaCheckUsage)
		fs.PrintDefaults()
	}
	server := fs.String("server", "", "Watershed server URL, e.g. http://watershed:8080 (/graphql is added unless given)")
	subject := fs.String("subject", "", "schema registry subject (a name or a urn:subject:… URN)")
	file := fs.String("file", "", "candidate schema file; - reads standard input")
	typ := fs.String("type", "", "schema type: AVRO, PROTOBUF or JSON (default: the subject's)")
	registry := fs.String("registry", "", "registry source, when the subject name exists in several")
	asJSON := fs.Bool("json", false, "print the answer as JSON instead of a table")
	token := fs.String("token", "", "API token (default: $WATERSHED_TOKEN)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the server")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return checkPassed
		}
		return checkUsage
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "watershed schema-check: "+format+"\n", a...)
		return code
	}
	if fs.NArg() > 0 {
		return fail(checkUsage, "unexpected arguments %v", fs.Args())
	}
	if *server == "" || *subject == "" || *file == "" {
		fs.Usage()
		return fail(checkUsage, "--server, --subject and --file are required")
	}
	endpoint, err := graphqlEndpoint(*server)
	if err != nil {
		return fail(checkUsage, "%v", err)
	}
	if *typ != "" {
		*typ = strings.ToUpper(*typ)
		if *typ != "AVRO" && *typ != "PROTOBUF" && *typ != "JSON" {
			return fail(checkUsage, "--type must be AVRO, PROTOBUF or JSON, not %q", *typ)
		}
	}
	var text []byte
	if *file == "-" {
		text, err = io.ReadAll(io.LimitReader(os.Stdin, maxSchemaFile+1))
	} else {
		text, err = readLimited(*file)
	}
	if err != nil {
		return fail(checkUsage, "read schema: %v", err)
	}
	if len(text) > maxSchemaFile {
		return fail(checkUsage, "read schema: %s is larger than %d bytes", *file, maxSchemaFile)
	}
	if *token == "" {
		*token = lookupEnv(environ, "WATERSHED_TOKEN")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	vars := map[string]any{"subject": *subject, "schema": string(text)}
	if *typ != "" {
		vars["type"] = *typ
	}
	if *registry != "" {
		vars["registry"] = *registry
	}
	raw, gerr, err := postGraphQL(ctx, endpoint, *token, schemaCheckQuery, vars)
	if err != nil {
		return fail(checkServer, "%v", err)
	}
	if gerr != nil {
		code := checkServer
		if gerr.Code == "INVALID_ARGUMENT" {
			code = checkInvalid
		}
		return fail(code, "%s (%s)", gerr.Message, gerr.Code)
	}
	var data struct {
		R checkAnswer `json:"schemaChangeImpact"`
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		return fail(checkServer, "decode the answer: %v", err)
	}
	if *asJSON {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, raw, "", "  "); err != nil {
			return fail(checkServer, "format the answer: %v", err)
		}
		pretty.WriteByte('\n')
		if _, err := stdout.Write(pretty.Bytes()); err != nil {
			return fail(checkServer, "write: %v", err)
		}
	} else if err := printCheck(stdout, data.R); err != nil {
		return fail(checkServer, "write: %v", err)
	}
	if data.R.Breaking || !data.R.Compatibility.Compatible {
		return checkBreaking
	}
	return checkPassed
}

// maxSchemaFile bounds the candidate's size (the server's own body limit is
// the real bound; this one gives a clear message first).
const maxSchemaFile = 4 << 20

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxSchemaFile+1))
}

func lookupEnv(environ []string, key string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// graphqlEndpoint turns a server URL into its GraphQL endpoint.
func graphqlEndpoint(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--server %q is not an http(s) URL", server)
	}
	if !strings.HasSuffix(u.Path, "/graphql") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/graphql"
	}
	return u.String(), nil
}

const schemaCheckQuery = `query($subject: String!, $schema: String!, $type: SchemaType, $registry: String) {
  schemaChangeImpact(subject: $subject, schema: $schema, schemaType: $type, registry: $registry) {
    subject { urn name }
    schemaType latestVersion breaking seq
    compatibility { level levelSource compatible messages checked readersCompatible readerMessages }
    changes { path kind previousPath breaking field before { type nullable } after { type nullable } }
    consumers { asset { urn kind name } verdict fields fieldLineage reason hops path }
  }
}`

type checkAnswer struct {
	Subject struct {
		URN  string `json:"urn"`
		Name string `json:"name"`
	} `json:"subject"`
	SchemaType    string `json:"schemaType"`
	LatestVersion int    `json:"latestVersion"`
	Breaking      bool   `json:"breaking"`
	Compatibility struct {
		Level             string   `json:"level"`
		LevelSource       string   `json:"levelSource"`
		Compatible        bool     `json:"compatible"`
		Messages          []string `json:"messages"`
		Checked           []int    `json:"checked"`
		ReadersCompatible bool     `json:"readersCompatible"`
		ReaderMessages    []string `json:"readerMessages"`
	} `json:"compatibility"`
	Changes []struct {
		Path         string     `json:"path"`
		Kind         string     `json:"kind"`
		PreviousPath *string    `json:"previousPath"`
		Breaking     bool       `json:"breaking"`
		Before       *checkType `json:"before"`
		After        *checkType `json:"after"`
	} `json:"changes"`
	Consumers []struct {
		Asset struct {
			URN  string `json:"urn"`
			Kind string `json:"kind"`
		} `json:"asset"`
		Verdict      string   `json:"verdict"`
		Fields       []string `json:"fields"`
		FieldLineage bool     `json:"fieldLineage"`
		Reason       string   `json:"reason"`
		Hops         int      `json:"hops"`
	} `json:"consumers"`
}

type checkType struct {
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

// printCheck writes the answer as a table.
func printCheck(w io.Writer, r checkAnswer) error {
	var b bytes.Buffer
	c := r.Compatibility
	fmt.Fprintf(&b, "subject   %s (%s): %s, latest version %d\n", r.Subject.Name, r.Subject.URN, r.SchemaType, r.LatestVersion)
	verdict := "compatible"
	if !c.Compatible {
		verdict = "INCOMPATIBLE"
	}
	fmt.Fprintf(&b, "registry  %s under %s (%s level), checked against %s\n", verdict, c.Level, c.LevelSource, versionList(c.Checked))
	for _, m := range c.Messages {
		fmt.Fprintf(&b, "          - %s\n", m)
	}
	if c.ReadersCompatible {
		fmt.Fprintf(&b, "readers   on version %d can read data written with the candidate\n", r.LatestVersion)
	} else {
		fmt.Fprintf(&b, "readers   on version %d CANNOT read data written with the candidate\n", r.LatestVersion)
		for _, m := range c.ReaderMessages {
			fmt.Fprintf(&b, "          - %s\n", m)
		}
	}
	b.WriteByte('\n')
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	if len(r.Changes) == 0 {
		fmt.Fprintln(tw, "no field changes")
	} else {
		fmt.Fprintln(tw, "CHANGE\tFIELD\tDETAIL")
		for _, ch := range r.Changes {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", ch.Kind, ch.Path, changeDetail(ch.Kind, ch.PreviousPath, ch.Before, ch.After))
		}
	}
	tw.Flush()
	b.WriteByte('\n')
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	counts := map[string]int{}
	if len(r.Consumers) == 0 {
		fmt.Fprintln(tw, "no downstream consumers")
	} else {
		fmt.Fprintln(tw, "VERDICT\tKIND\tCONSUMER\tFIELDS\tREASON")
		for _, cs := range r.Consumers {
			counts[cs.Verdict]++
			u := cs.Asset.URN
			if !cs.FieldLineage {
				u += " (no field lineage)"
			}
			fields := strings.Join(cs.Fields, ",")
			if fields == "" {
				fields = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cs.Verdict, cs.Asset.Kind, u, fields, clip(cs.Reason, maxReason))
		}
	}
	tw.Flush()
	b.WriteByte('\n')
	switch {
	case counts["BREAKING"] > 0:
		fmt.Fprintf(&b, "%d consumer(s) would break, %d unknown, %d safe.\n", counts["BREAKING"], counts["UNKNOWN"], counts["SAFE"])
	case !c.Compatible:
		fmt.Fprintf(&b, "No consumer would break, but the registry would refuse the candidate under %s.\n", c.Level)
	default:
		fmt.Fprintf(&b, "No consumer would break (%d unknown, %d safe).\n", counts["UNKNOWN"], counts["SAFE"])
	}
	_, err := w.Write(b.Bytes())
	return err
}

// maxReason bounds a reason in the table (--json has it whole).
const maxReason = 110

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func versionList(vs []int) string {
	if len(vs) == 0 {
		return "no version"
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprint(v)
	}
	if len(s) == 1 {
		return "version " + s[0]
	}
	return "versions " + strings.Join(s, ", ")
}

func changeDetail(kind string, prev *string, before, after *checkType) string {
	typ := func(t *checkType) string {
		if t.Nullable {
			return t.Type + " (nullable)"
		}
		return t.Type
	}
	switch {
	case kind == "RENAMED" && prev != nil:
		return "from " + *prev
	case before != nil && after != nil && kind != "DEFAULT_CHANGED":
		return typ(before) + " -> " + typ(after)
	case before != nil:
		return typ(before)
	case after != nil:
		return typ(after)
	}
	return ""
}

// graphqlError is the first error of a GraphQL answer.
type graphqlError struct {
	Message string
	Code    string
}

// postGraphQL runs one query. A transport failure or an answer that is not
// GraphQL is err; a GraphQL error is gerr.
func postGraphQL(ctx context.Context, endpoint, token, query string, vars map[string]any) (data json.RawMessage, gerr *graphqlError, err error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, nil, fmt.Errorf("encode the request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("build the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("ask %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("read the answer of %s: %w", endpoint, err)
	}
	var out struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, nil, fmt.Errorf("%s answered %s, not GraphQL: %.200s", endpoint, resp.Status, b)
	}
	if len(out.Errors) > 0 {
		e := out.Errors[0]
		code, _ := e.Extensions["code"].(string)
		if code == "" {
			code = resp.Status
		}
		return nil, &graphqlError{Message: e.Message, Code: code}, nil
	}
	if resp.StatusCode != http.StatusOK || len(out.Data) == 0 || string(out.Data) == "null" {
		return nil, nil, fmt.Errorf("%s answered %s without data", endpoint, resp.Status)
	}
	return out.Data, nil, nil
}
