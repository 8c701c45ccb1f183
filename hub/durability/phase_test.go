package durability_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// builtHub is the crvshub binary the kill tests run, built once per test
// process by hubBinary, outside any test deadline: a build takes from a few
// seconds to minutes depending on the machine and its load, and must never
// eat into the time a phase of a test has.
var builtHub struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtHub.dir != "" {
		os.RemoveAll(builtHub.dir)
	}
	os.Exit(code)
}

// hubBinary returns the real crvshub binary, building it on first use
// (with -race when this test binary has it, so both share the build cache).
// The build has no deadline but go test's own -timeout.
func hubBinary(t *testing.T) string {
	t.Helper()
	builtHub.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			builtHub.err = err
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			builtHub.err = fmt.Errorf("the kill tests build the hub and need the go command: %w", err)
			return
		}
		if builtHub.dir, err = os.MkdirTemp("", "crvshub-durability-bin-"); err != nil {
			builtHub.err = err
			return
		}
		bin := filepath.Join(builtHub.dir, "crvshub")
		args := []string{"build"}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "-o", bin, "./hub/cmd/crvshub")
		cmd := exec.Command(goTool, args...)
		cmd.Dir = root
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			builtHub.err = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
			return
		}
		builtHub.bin = bin
		t.Logf("crvshub binary built in %.1fs (outside any test deadline)", time.Since(start).Seconds())
	})
	if builtHub.err != nil {
		t.Fatal(builtHub.err)
	}
	return builtHub.bin
}

// phase is one step of a test with its own time limit. Limits are
// generous (a loaded 2-core machine is many times slower than an idle
// one), and an error caused by running out of time says so, so that a
// timeout is never mistaken for a lost or damaged record.
type phase struct {
	name  string
	limit time.Duration
	ctx   context.Context
}

// startPhase starts a phase; its context ends after limit or at the end of
// the test, whichever comes first.
func startPhase(t testing.TB, name string, limit time.Duration) *phase {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return &phase{name: name, limit: limit, ctx: ctx}
}

// errTimeout marks errors that come from a phase running out of time.
var errTimeout = errors.New("timeout")

// check wraps err as a timeout of the phase when it comes from the phase's
// deadline (or a client timeout), and returns it unchanged otherwise.
func (p *phase) check(err error) error {
	if err == nil {
		return nil
	}
	if isTimeout(err) || p.ctx.Err() != nil {
		return fmt.Errorf("%w: phase %q ran out of its %s limit (the machine is slow or loaded; this says nothing about the records): %v", errTimeout, p.name, p.limit, err)
	}
	return err
}

// isTimeout reports whether err is a deadline or a client timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errTimeout) {
		return true
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// countTimeouts splits errs into timeouts and other failures.
func countTimeouts(errs []error) (timeouts, others int) {
	for _, err := range errs {
		switch {
		case err == nil:
		case isTimeout(err):
			timeouts++
		default:
			others++
		}
	}
	return timeouts, others
}

// TestPhaseTellsTimeoutsFromFailures: an error caused by a phase's limit
// (or a client timeout) is reported as a timeout, never as a lost record;
// any other error is left as it is.
func TestPhaseTellsTimeoutsFromFailures(t *testing.T) {
	expired := startPhase(t, "expired", time.Nanosecond)
	<-expired.ctx.Done()
	err := expired.check(fmt.Errorf("GET event: %w", expired.ctx.Err()))
	if !isTimeout(err) || !strings.Contains(err.Error(), `timeout: phase "expired" ran out of its 1ns limit`) {
		t.Errorf("deadline error reported as %v", err)
	}
	clientTimeout := &net.DNSError{Err: "i/o timeout", IsTimeout: true} // any error whose Timeout() is true
	live := startPhase(t, "live", time.Hour)
	if err := live.check(clientTimeout); !isTimeout(err) {
		t.Errorf("a client timeout is not reported as one: %v", err)
	}
	missing := errors.New("acknowledged event x lost: GET answered 404")
	if err := live.check(missing); err != missing || isTimeout(err) {
		t.Errorf("a missing record reported as %v", err)
	}
	timeouts, others := countTimeouts([]error{nil, err, missing, live.check(clientTimeout)})
	if timeouts != 2 || others != 1 {
		t.Errorf("countTimeouts = %d timeouts, %d others; want 2, 1", timeouts, others)
	}
}
