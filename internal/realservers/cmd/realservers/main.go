// Command realservers starts and stops the real servers of the integration
// suite; infra/up and infra/down run it. See infra/README.md.
//
//	realservers up [all|postgres|kafka|registry|connect|neo4j ...]
//	realservers fetch [all|kafka|...]   (resolve artifacts only)
//	realservers down
//	realservers status
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/watershed-data/watershed/internal/realservers"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "realservers:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("realservers", flag.ContinueOnError)
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	home, _ := os.UserHomeDir()
	runDir := fs.String("run", envOr("REALSERVERS_RUN", filepath.Join(wd, ".infra")), "folder for servers.json, logs and data")
	cache := fs.String("cache", envOr("REALSERVERS_CACHE", filepath.Join(home, ".cache", "watershed-infra")), "Maven repository and unpacked artifacts, kept between runs")
	infra := fs.String("infra", filepath.Join(wd, "infra"), "the repository's infra/ folder")
	brokers := fs.Int("brokers", 3, "number of Kafka brokers")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: realservers [flags] up [all|postgres|kafka|registry|connect|neo4j ...] | fetch [servers] | down | status")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no command")
	}
	abs := func(p *string) {
		if a, err := filepath.Abs(*p); err == nil {
			*p = a
		}
	}
	abs(runDir)
	abs(cache)
	abs(infra)
	l := realservers.New(realservers.Options{InfraDir: *infra, RunDir: *runDir, CacheDir: *cache, Brokers: *brokers, Log: os.Stderr})
	switch cmd := fs.Arg(0); cmd {
	case "up":
		names := fs.Args()[1:]
		if len(names) == 0 {
			names = []string{"all"}
		}
		servers, err := realservers.ParseServers(names)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		st, err := l.Up(ctx, servers)
		if st != nil {
			env := filepath.Join(*runDir, "env")
			line := fmt.Sprintf("export %s=%s\n", realservers.EnvState, filepath.Join(*runDir, realservers.StateFile))
			if werr := os.WriteFile(env, []byte(line), 0o644); werr != nil && err == nil {
				err = werr
			}
			fmt.Print(line)
		}
		return err
	case "fetch":
		names := fs.Args()[1:]
		if len(names) == 0 {
			names = []string{"all"}
		}
		servers, err := realservers.ParseServers(names)
		if err != nil {
			return err
		}
		return l.Fetch(servers)
	case "down":
		return l.Down()
	case "status":
		st, err := realservers.ReadState(filepath.Join(*runDir, realservers.StateFile))
		if err != nil {
			return err
		}
		for _, p := range st.Procs() {
			fmt.Printf("%-10s pid %-8d started in %5.1fs  log %s\n", p.Name, p.PID, p.StartSeconds, p.Log)
		}
		return nil
	default:
		fs.Usage()
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
