package schemaregistry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/schemaparse"
)

// fetchConcurrency bounds the registry requests in flight during a crawl.
const fetchConcurrency = 16

// Sources of an effective compatibility level or mode.
const (
	levelFromSubject = "subject"
	levelFromGlobal  = "global"
)

// registryClient is the sr client of one crawl, with the transport it owns.
type registryClient struct {
	cl        *sr.Client
	transport *http.Transport
	timeout   time.Duration
}

// dialRegistry builds the client of one crawl. It reads the files cfg names
// (CA, client certificate, password or token) and opens no connection.
func dialRegistry(cfg Config, s settings) (*registryClient, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = fetchConcurrency
	https := false
	for _, u := range s.urls {
		https = https || strings.HasPrefix(u, "https://")
	}
	if https {
		tc, err := cfg.TLS.load()
		if err != nil {
			return nil, err
		}
		transport.TLSClientConfig = tc
	}
	opts := []sr.ClientOpt{
		sr.URLs(append([]string(nil), s.urls...)...),
		sr.HTTPClient(&http.Client{Transport: transport}),
		sr.UserAgent("watershed-crawler"),
	}
	switch {
	case cfg.Username != "":
		password := cfg.Password
		if cfg.PasswordFile != "" {
			p, err := readSecret("passwordFile", cfg.PasswordFile)
			if err != nil {
				return nil, err
			}
			password = p
		}
		opts = append(opts, sr.BasicAuth(cfg.Username, password))
	case cfg.BearerToken != "":
		opts = append(opts, sr.BearerToken(cfg.BearerToken))
	case cfg.BearerTokenFile != "":
		t, err := readSecret("bearerTokenFile", cfg.BearerTokenFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sr.BearerToken(t))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "build schema registry client: %w", err)
	}
	return &registryClient{cl: cl, transport: transport, timeout: s.timeout}, nil
}

// close releases the idle connections of the crawl.
func (r *registryClient) close() { r.transport.CloseIdleConnections() }

func readSecret(field, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", catalog.Errorf(catalog.Invalid, "read %s: %w", field, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", catalog.Errorf(catalog.Invalid, "read %s: %s is empty", field, path)
	}
	return s, nil
}

func (t TLSConfig) load() (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // opt-in, documented as test-only
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, catalog.Errorf(catalog.Invalid, "read tls.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, catalog.Errorf(catalog.Invalid, "read tls.caFile %s: no PEM certificate found", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, catalog.Errorf(catalog.Invalid, "read tls.certFile/keyFile: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// call runs fn with a context bounded by the request timeout times factor.
func (r *registryClient) call(ctx context.Context, factor int, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout*time.Duration(factor))
	defer cancel()
	return fn(ctx)
}

// statusOf returns the HTTP status of a registry error response, or 0.
func statusOf(err error) int {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// describe adds the HTTP status to a registry error response, whose text is
// only the registry's message.
func describe(err error) error {
	if code := statusOf(err); code != 0 {
		return fmt.Errorf("HTTP %d: %w", code, err)
	}
	return err
}

// crawlError classifies a failure that makes the whole crawl fail.
func crawlError(what string, err error) error {
	switch code := statusOf(err); {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return catalog.Errorf(catalog.Permission, "%s: %w", what, describe(err))
	case code != 0 && code < 500:
		return catalog.Errorf(catalog.Invalid, "%s: %w", what, describe(err))
	}
	return catalog.Errorf(catalog.Unavailable, "%s: %w", what, describe(err))
}

// subjectInfo is one readable subject.
type subjectInfo struct {
	name string
	// compat and mode are the effective levels, "" when the registry does
	// not report them; their sources say whether the subject sets them or
	// inherits the global ones.
	compat, compatSource string
	mode, modeSource     string
	// versions are the live versions, ascending.
	versions []*versionInfo
}

// latest returns the newest live version.
func (s *subjectInfo) latest() *versionInfo { return s.versions[len(s.versions)-1] }

// versionInfo is one registered schema version, with what parsing found.
type versionInfo struct {
	subject    string
	version    int
	id         int
	schemaType schemaparse.SchemaType
	refs       []sr.SchemaReference
	text       string

	// Set by parsing.
	recordName string
	doc        string
	fieldCount int
	parseErr   string
	// schema is the parsed schema, kept during a crawl for latest versions.
	schema *schemaparse.Schema
}

type svKey struct {
	subject string
	version int
}

// registryState is what a crawl read from the registry.
type registryState struct {
	globalCompat string
	globalMode   string
	// subjects are the readable, selected subjects, by name.
	subjects []*subjectInfo
	// failed maps the selected subjects that could not be read to why.
	failed map[string]string
	// listed counts every live subject of the registry, selected or not.
	listed int
	byID   map[int][]*versionInfo
	byKey  map[svKey]*versionInfo

	// refs holds versions of unselected subjects (from the bulk listing or
	// fetched on demand) that references need.
	refMu sync.Mutex
	refs  map[svKey]*versionInfo
}

// fetchRegistry reads the registry: subjects, global and per-subject
// levels, every live version. It fails only when the registry cannot be
// listed at all; a subject that cannot be read lands in failed.
func (c *crawl) fetchRegistry(ctx context.Context) (*registryState, error) {
	rc := c.rc
	var names []string
	if err := rc.call(ctx, 1, func(ctx context.Context) (err error) {
		names, err = rc.cl.Subjects(ctx)
		return err
	}); err != nil {
		return nil, crawlError("list subjects", err)
	}
	st := &registryState{
		listed: len(names),
		failed: map[string]string{},
		byID:   map[int][]*versionInfo{},
		byKey:  map[svKey]*versionInfo{},
		refs:   map[svKey]*versionInfo{},
	}
	var err error
	if st.globalCompat, _, err = c.level(ctx, "/config", "compatibilityLevel", ""); err != nil {
		return nil, crawlError("read global compatibility", err)
	}
	if st.globalMode, _, err = c.level(ctx, "/mode", "mode", ""); err != nil {
		return nil, crawlError("read global mode", err)
	}
	var chosen []string
	for _, n := range names {
		if selected(n, c.s.include, c.s.exclude) {
			chosen = append(chosen, n)
		}
	}
	sort.Strings(chosen)

	bulk := c.fetchBulk(ctx, len(chosen), len(names))
	for key, v := range bulk {
		if !selected(key.subject, c.s.include, c.s.exclude) {
			st.refs[key] = v
		}
	}

	results := make([]*subjectInfo, len(chosen))
	reasons := make([]string, len(chosen))
	forEach(ctx, len(chosen), fetchConcurrency, func(i int) {
		results[i], reasons[i] = c.fetchSubject(ctx, chosen[i], st, bulk)
	})
	if err := ctx.Err(); err != nil {
		return nil, catalog.Errorf(catalog.Unavailable, "read subjects: %w", err)
	}
	for i, s := range results {
		switch {
		case reasons[i] != "":
			st.failed[chosen[i]] = reasons[i]
		case s != nil:
			st.subjects = append(st.subjects, s)
			for _, v := range s.versions {
				st.byKey[svKey{v.subject, v.version}] = v
				st.byID[v.id] = append(st.byID[v.id], v)
			}
		}
	}
	return st, nil
}

// fetchBulk reads every live schema with one GET /schemas when that is
// worth it (most subjects are selected). It returns nil when it is not, or
// when the request fails (an older registry, a proxy refusing large
// answers): the crawl then reads versions one by one.
func (c *crawl) fetchBulk(ctx context.Context, chosen, listed int) map[svKey]*versionInfo {
	if chosen == 0 || chosen*2 < listed {
		return nil
	}
	var all []sr.SubjectSchema
	err := c.rc.call(ctx, BulkTimeoutFactor, func(ctx context.Context) (err error) {
		all, err = c.rc.cl.AllSchemas(ctx)
		return err
	})
	if err != nil {
		c.logger.Info("bulk schema listing failed; reading versions one by one", "err", describe(err))
		return nil
	}
	out := make(map[svKey]*versionInfo, len(all))
	for _, s := range all {
		out[svKey{s.Subject, s.Version}] = newVersionInfo(s)
	}
	return out
}

func newVersionInfo(s sr.SubjectSchema) *versionInfo {
	return &versionInfo{
		subject:    s.Subject,
		version:    s.Version,
		id:         s.ID,
		schemaType: schemaparse.SchemaType(s.Type.String()),
		refs:       s.References,
		text:       s.Schema.Schema,
	}
}

// fetchSubject reads one subject: its live versions, its levels, and every
// version the bulk listing lacked. It returns (nil, "") for a subject that
// vanished or has no live version, and a reason when it cannot be read.
func (c *crawl) fetchSubject(ctx context.Context, name string, st *registryState, bulk map[svKey]*versionInfo) (*subjectInfo, string) {
	rc := c.rc
	var versions []int
	err := rc.call(ctx, 1, func(ctx context.Context) (err error) {
		versions, err = rc.cl.SubjectVersions(ctx, name)
		return err
	})
	switch {
	case statusOf(err) == http.StatusNotFound:
		return nil, ""
	case err != nil:
		return nil, fmt.Sprintf("list versions: %v", describe(err))
	case len(versions) == 0:
		return nil, ""
	}
	s := &subjectInfo{name: name}
	var fromSubject bool
	if s.compat, fromSubject, err = c.level(ctx, "/config", "compatibilityLevel", name); err != nil {
		return nil, fmt.Sprintf("read compatibility: %v", describe(err))
	}
	if fromSubject && st.globalCompat != "" && s.compat != st.globalCompat {
		// Apicurio's Confluent-compatible API answers a subject without a
		// level of its own with 200 and its built-in default (NONE) where
		// Confluent answers 404; asked to default to the global level, it
		// names the level it enforces. An answer that changes with
		// defaultToGlobal is no setting of the subject's.
		effective, err := c.levelDefaulted(ctx, "/config", "compatibilityLevel", name)
		if err != nil {
			return nil, fmt.Sprintf("read compatibility: %v", describe(err))
		}
		fromSubject = effective == s.compat
	}
	s.compatSource = levelSource(fromSubject, st.globalCompat, &s.compat)
	if s.mode, fromSubject, err = c.level(ctx, "/mode", "mode", name); err != nil {
		return nil, fmt.Sprintf("read mode: %v", describe(err))
	}
	s.modeSource = levelSource(fromSubject, st.globalMode, &s.mode)

	sort.Ints(versions)
	for _, n := range versions {
		if v := bulk[svKey{name, n}]; v != nil {
			s.versions = append(s.versions, v)
			continue
		}
		var ss sr.SubjectSchema
		err := rc.call(ctx, 1, func(ctx context.Context) (err error) {
			ss, err = rc.cl.SchemaByVersion(ctx, name, n)
			return err
		})
		switch {
		case statusOf(err) == http.StatusNotFound:
			continue // deleted since the listing
		case err != nil:
			return nil, fmt.Sprintf("read version %d: %v", n, describe(err))
		}
		ss.Subject, ss.Version = name, n
		s.versions = append(s.versions, newVersionInfo(ss))
	}
	if len(s.versions) == 0 {
		return nil, ""
	}
	return s, ""
}

// levelSource fills in an inherited level and says where it came from.
func levelSource(fromSubject bool, global string, level *string) string {
	if fromSubject {
		return levelFromSubject
	}
	*level = global
	if global == "" {
		return ""
	}
	return levelFromGlobal
}

// level reads a compatibility level or mode (key in the answer) at path,
// for subject or globally when subject is empty. For a subject it asks for
// the subject's own setting only; fromSubject is false when the subject has
// none (404). Globally, a 404 means the registry does not support the
// endpoint, and level is "". Levels are kept as the registry spells them,
// so that newer values need no client support.
func (c *crawl) level(ctx context.Context, path, key, subject string) (level string, fromSubject bool, err error) {
	return c.askLevel(ctx, path, key, subject, false)
}

// levelDefaulted reads subject's level falling back to the global one
// (defaultToGlobal=true): the level the registry applies to the subject.
func (c *crawl) levelDefaulted(ctx context.Context, path, key, subject string) (string, error) {
	l, _, err := c.askLevel(ctx, path, key, subject, true)
	return l, err
}

func (c *crawl) askLevel(ctx context.Context, path, key, subject string, defaultToGlobal bool) (level string, fromSubject bool, err error) {
	if subject != "" {
		path += "/" + url.PathEscape(subject)
		ctx = sr.WithParams(ctx, sr.RawParams(url.Values{"defaultToGlobal": {strconv.FormatBool(defaultToGlobal)}}))
	}
	var answer map[string]any
	err = c.rc.call(ctx, 1, func(ctx context.Context) error {
		return c.rc.cl.Do(ctx, http.MethodGet, path, nil, &answer)
	})
	if statusOf(err) == http.StatusNotFound {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	s, _ := answer[key].(string)
	if s == "" {
		// Some registries answer PUT-style {"compatibility": …}.
		s, _ = answer["compatibility"].(string)
	}
	return s, subject != "" && s != "", nil
}

// errRefNotFound marks a reference whose subject version does not exist: the
// referring schema is recorded with a parse error.
var errRefNotFound = errors.New("not found in the registry")

// lookupVersion returns subject version n for resolving a reference: from
// what the crawl read, else fetched once.
func (c *crawl) lookupVersion(ctx context.Context, st *registryState, subject string, n int) (*versionInfo, error) {
	key := svKey{subject, n}
	if v := st.byKey[key]; v != nil {
		return v, nil
	}
	st.refMu.Lock()
	v := st.refs[key]
	st.refMu.Unlock()
	if v != nil {
		return v, nil
	}
	var ss sr.SubjectSchema
	err := c.rc.call(ctx, 1, func(ctx context.Context) (err error) {
		ss, err = c.rc.cl.SchemaByVersion(ctx, subject, n)
		return err
	})
	if statusOf(err) == http.StatusNotFound {
		return nil, errRefNotFound
	}
	if err != nil {
		return nil, describe(err)
	}
	ss.Subject, ss.Version = subject, n
	v = newVersionInfo(ss)
	st.refMu.Lock()
	st.refs[key] = v
	st.refMu.Unlock()
	return v, nil
}

// lookupID asks the registry which subject versions use schema id, for a
// sampled id that no selected subject has. It returns no versions and no
// error when the id is unknown.
func (c *crawl) lookupID(ctx context.Context, id int) ([]sr.SubjectVersion, error) {
	var svs []sr.SubjectVersion
	err := c.rc.call(ctx, 1, func(ctx context.Context) (err error) {
		svs, err = c.rc.cl.SchemaVersionsByID(ctx, id)
		return err
	})
	if statusOf(err) == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, describe(err)
	}
	return svs, nil
}

// forEach calls fn(i) for i in [0, n) with at most workers calls at once,
// and returns when all have returned. It starts no new call once ctx is
// done.
func forEach(ctx context.Context, n, workers int, fn func(i int)) {
	if workers > n {
		workers = n
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
