package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// cmdCrawl crawls the configured sources once into the store and exits. It
// fails (non-zero exit) when any crawl fails; a partial crawl succeeds with
// its incomplete parts listed.
func cmdCrawl(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) (err error) {
	fs := flag.NewFlagSet("crawl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f commonFlags
	f.register(fs, false)
	source := fs.String("source", "", "crawl only this source")
	if err := fs.Parse(args); err != nil {
		return usage(err)
	}
	if fs.NArg() > 0 {
		return usage(fmt.Errorf("unexpected arguments %v", fs.Args()))
	}
	if f.config == "" {
		return usage(errors.New("--config is required: it lists the sources to crawl"))
	}
	cfg, err := f.load(environ, builtinKinds())
	if err != nil {
		return err
	}
	if len(cfg.Sources) == 0 {
		return fmt.Errorf("%s configures no sources", f.config)
	}
	names := make([]string, 0, len(cfg.Sources))
	for _, s := range cfg.Sources {
		names = append(names, s.Name)
	}
	if *source != "" {
		if _, ok := cfg.Source(*source); !ok {
			return fmt.Errorf("no source %q in %s (configured: %s)", *source, f.config, strings.Join(names, ", "))
		}
		names = []string{*source}
	}
	logger := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	store, err := openConfiguredStore(cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
		}
	}()
	m, err := newManager(cfg, store, logger)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSTATUS\tTOOK\tASSETS\tLINKS\tCREATED\tUPDATED\tDELETED\tCHANGES")
	var failed []string
	var notes []string
	for _, name := range names {
		run, err := m.Crawl(ctx, name, "cli")
		assets := 0
		for k, n := range run.Counts {
			if k != "links" {
				assets += n
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", name, run.Status, run.Duration.Round(time.Millisecond),
			assets, run.Counts["links"], run.Result.Created, run.Result.Updated, run.Result.Deleted, run.Result.Changes)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if run.Status == catalog.CrawlPartial {
			for _, e := range run.Errors {
				notes = append(notes, fmt.Sprintf("%s: incomplete %s", name, e))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(stderr, "warning:", n)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d crawls failed:\n  %s", len(failed), len(names), strings.Join(failed, "\n  "))
	}
	return nil
}
