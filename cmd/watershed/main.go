// Command watershed runs the Watershed metadata catalog and lineage server.
//
//	watershed serve [--config FILE] [--data-dir DIR] [--listen ADDR]
//	watershed crawl --config FILE [--data-dir DIR] [--source NAME]
//	watershed demo [--listen ADDR] [--data-dir DIR]
//	watershed version
//
// main is the only place that knows every component: it builds them from
// the configuration and draws the arrows between them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	os.Exit(runCommand(os.Args[1:], os.Stdout, os.Stderr, os.Environ()))
}

const usageText = `Watershed: metadata catalog and lineage graph server for event-driven data platforms.

Usage:
  watershed serve   [--config FILE] [--data-dir DIR] [--listen ADDR]   run the server
  watershed crawl   --config FILE [--data-dir DIR] [--source NAME]     crawl the sources once, then exit
  watershed demo    [--listen ADDR] [--data-dir DIR]                   run against a live in-process demo estate
  watershed schema-check --server URL --subject S --file F [--json]    what a proposed schema breaks (exit 1 if anything)
  watershed version                                                    print the version

Every config key can also be set in the environment as WATERSHED_<KEY> (e.g. WATERSHED_DATA_DIR).
`

// runCommand executes the command line and returns the exit code.
func runCommand(args []string, stdout, stderr io.Writer, environ []string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stderr, environ)
	case "crawl":
		err = cmdCrawl(ctx, args[1:], stdout, stderr, environ)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr, environ)
	case "schema-check":
		return cmdSchemaCheck(ctx, args[1:], stdout, stderr, environ)
	case "version", "--version":
		fmt.Fprintln(stdout, "watershed", version())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return 0
	default:
		fmt.Fprintf(stderr, "watershed: unknown command %q\n\n%s", args[0], usageText)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "watershed %s: %v\n", args[0], err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// newLogger builds the process logger.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// usageError marks a command-line mistake (exit status 2, like an unknown
// command); other failures exit with 1.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// usage wraps a flag or argument error; the help request passes through.
func usage(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err}
}
