package realservers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// started is a process the launcher started and still waits for.
type started struct {
	proc   Proc
	begin  time.Time
	exited chan struct{}
	err    error // set when exited is closed
}

// spawn starts argv in its own session with its output appended to log.
// The process outlives the launcher: infra/down stops it by PID.
func spawn(name, marker, log string, env []string, prog string, args ...string) (*started, error) {
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	defer f.Close()
	cmd := exec.Command(prog, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &started{proc: Proc{Name: name, PID: cmd.Process.Pid, Marker: marker, Log: log}, begin: time.Now(), exited: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// waitReady polls ready every 250ms until it returns nil, the process
// exits, or timeout passes. On failure the error carries the log's tail.
func (s *started) waitReady(ctx context.Context, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before it was ready (%v); last lines of %s:\n%s", s.proc.Name, s.err, s.proc.Log, Tail(s.proc.Log, 60))
		default:
		}
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		last = ready(pctx)
		pcancel()
		if last == nil {
			s.proc.StartSeconds = time.Since(s.begin).Seconds()
			return nil
		}
		select {
		case <-ctx.Done():
			kill(s.proc, 10*time.Second)
			return fmt.Errorf("%s not ready after %s (last check: %v); last lines of %s:\n%s", s.proc.Name, timeout, last, s.proc.Log, Tail(s.proc.Log, 60))
		case <-s.exited:
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// alive reports whether pid runs and its command line contains marker, so
// that a PID reused by an unrelated process is never signalled.
func alive(p Proc) bool {
	if p.PID <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/cmdline")
	if err != nil {
		return false
	}
	if st, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/stat"); err == nil {
		// A zombie has exited; only its parent's wait is missing.
		if f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return false
		}
	}
	return bytes.Contains(b, []byte(p.Marker))
}

// kill stops p: SIGTERM (SIGINT for PostgreSQL's fast shutdown), then
// SIGKILL if it has not exited after grace. It signals p.PID only, and
// only while its command line still carries p.Marker.
func kill(p Proc, grace time.Duration) error {
	if !alive(p) {
		return nil
	}
	sig := syscall.SIGTERM
	if p.Name == "postgres" {
		sig = syscall.SIGINT
	}
	if err := syscall.Kill(p.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s (pid %d): %w", p.Name, p.PID, err)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(p) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s (pid %d): %w", p.Name, p.PID, err)
	}
	for i := 0; i < 50 && alive(p); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if alive(p) {
		return fmt.Errorf("%s (pid %d) survives SIGKILL", p.Name, p.PID)
	}
	return fmt.Errorf("%s (pid %d) ignored SIGTERM for %s and was killed", p.Name, p.PID, grace)
}

// freePorts returns n distinct free loopback ports. They are free when
// returned; another process may still take one before the server binds it,
// in which case the server fails to start and says so in its log.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var out []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// dial reports whether addr accepts TCP connections.
func dial(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}
