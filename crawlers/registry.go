package crawlers

import (
	"bytes"
	"fmt"
	"io"
	"sort"
)

// Registry maps kind names to Kinds. Build one with NewRegistry; it is not
// safe for concurrent registration (register everything at startup).
type Registry struct {
	kinds map[string]Kind
}

// NewRegistry returns a registry holding kinds. It panics on a duplicate or
// unnamed kind, which is a programming error.
func NewRegistry(kinds ...Kind) *Registry {
	r := &Registry{kinds: map[string]Kind{}}
	for _, k := range kinds {
		r.Register(k)
	}
	return r
}

// Register adds k. It panics on a duplicate or unnamed kind.
func (r *Registry) Register(k Kind) {
	if k.Name == "" || k.NewConfig == nil {
		panic("crawlers: kind without name or config")
	}
	if _, dup := r.kinds[k.Name]; dup {
		panic(fmt.Sprintf("crawlers: kind %q registered twice", k.Name))
	}
	r.kinds[k.Name] = k
}

// Lookup returns the kind named name.
func (r *Registry) Lookup(name string) (Kind, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// Names returns the registered kind names, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
