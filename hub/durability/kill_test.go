package durability_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cliCreateClient runs `crvshub clients create` and returns the printed
// credentials.
func cliCreateClient(t *testing.T, ctx context.Context, bin, dataDir string) (id, secret string) {
	t.Helper()
	return cliCreateClientScopes(t, ctx, bin, dataDir, notifyScopes)
}

// hubProc is a `crvshub serve` subprocess.
type hubProc struct {
	t       *testing.T
	cmd     *exec.Cmd
	base    string
	logPath string
	exited  chan struct{}
	waitErr error
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

var procSeq atomic.Int32

// startServe starts `crvshub serve` on a free loopback port and waits for
// /readyz. The process is killed at test end if still running.
func startServe(t *testing.T, ctx context.Context, bin, dataDir string) *hubProc {
	t.Helper()
	return startServeAt(t, ctx, bin, dataDir, "")
}

// startServeAt is startServe on a given address ("" = a free one), with
// extra serve flags.
func startServeAt(t *testing.T, ctx context.Context, bin, dataDir, fixedAddr string, extra ...string) *hubProc {
	t.Helper()
	logDir := t.TempDir()
	for attempt := 1; ; attempt++ {
		addr := fixedAddr
		if addr == "" {
			addr = freeLoopbackAddr(t)
		}
		logPath := filepath.Join(logDir, fmt.Sprintf("serve-%d.log", procSeq.Add(1)))
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, append([]string{"serve", "--data", dataDir, "--addr", addr, "--log-level", "warn"}, extra...)...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			logf.Close()
			t.Fatalf("start crvshub serve: %v", err)
		}
		p := &hubProc{t: t, cmd: cmd, base: "http://" + addr, logPath: logPath, exited: make(chan struct{})}
		go func() {
			p.waitErr = cmd.Wait()
			logf.Close()
			close(p.exited)
		}()
		t.Cleanup(p.kill)
		err = p.waitReady(ctx, 90*time.Second)
		if err == nil {
			return p
		}
		p.kill()
		if attempt < 3 && fixedAddr == "" && strings.Contains(p.log(), "address already in use") {
			continue // someone took the port between our probe and the hub's listen
		}
		t.Fatalf("crvshub serve did not become ready: %v\n%s", err, p.log())
	}
}

func (p *hubProc) waitReady(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", p.base+"/readyz", nil)
		if res, err := hc.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("process exited: %v", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("%w: /readyz not 200 within %s (or the phase's limit): %v", errTimeout, within, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// kill sends SIGKILL (if the process still runs) and waits for its end.
func (p *hubProc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.t.Errorf("crvshub (pid %d) did not die within 10 s of SIGKILL", p.cmd.Process.Pid)
	}
}

// stop asks the hub to shut down (SIGTERM) and reports how it ended.
func (p *hubProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.waitErr
	case <-time.After(20 * time.Second):
		p.kill()
		return errors.New("no exit within 20 s of SIGTERM")
	}
}

func (p *hubProc) log() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// checkLog fails the test if the hub's output holds a race report or a panic.
func (p *hubProc) checkLog() {
	b, _ := os.ReadFile(p.logPath)
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
		if strings.Contains(string(b), bad) {
			p.t.Errorf("crvshub output (%s) contains %q:\n%s", p.logPath, bad, p.log())
		}
	}
}

// sentReq is one create+notify request of the load.
type sentReq struct {
	txid string
	seed int
}

type ackedEvent struct{ id, trackingID string }

// killRound is what one load-and-kill round saw.
type killRound struct {
	sent           []sentReq
	acked          map[string]ackedEvent // transaction id -> the event answered with 200
	inflightAtKill int64
	failedAfter    int // requests cut off by the kill (no complete answer)
}

// loadAndKill runs create+notify requests from workers goroutines against
// p and sends SIGKILL to p as soon as killAfter of them have been answered
// 200, while the others are in flight. Before the kill every request must
// succeed.
func loadAndKill(t *testing.T, ph *phase, p *hubProc, c *caller, prefix string, workers, killAfter int) killRound {
	t.Helper()
	const maxPerWorker = 500 // bound: the kill comes long before
	ctx := ph.ctx
	var (
		mu       sync.Mutex
		r        = killRound{acked: map[string]ackedEvent{}}
		inflight atomic.Int64
		acks     atomic.Int64
		killed   atomic.Bool
		killOnce sync.Once
		wg       sync.WaitGroup
	)
	kill := func() {
		killOnce.Do(func() {
			killed.Store(true) // no new requests from here on
			r.inflightAtKill = inflight.Load()
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Errorf("SIGKILL: %v", err)
			}
		})
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range maxPerWorker {
				if killed.Load() || ctx.Err() != nil {
					return
				}
				req := sentReq{txid: fmt.Sprintf("%s-w%02d-%03d", prefix, w, j), seed: j*workers + w}
				body := notifyBody(req.txid, req.seed)
				mu.Lock()
				r.sent = append(r.sent, req)
				mu.Unlock()
				inflight.Add(1)
				status, b, err := c.do(ctx, "POST", notifyPath, body)
				inflight.Add(-1)
				if err != nil {
					mu.Lock()
					if killed.Load() {
						r.failedAfter++
					} else {
						t.Errorf("%s before the kill: %v", req.txid, ph.check(err))
					}
					mu.Unlock()
					continue
				}
				if status != http.StatusOK {
					t.Errorf("%s: status %d: %.300s", req.txid, status, b)
					continue
				}
				ev, err := decodeEvent(b)
				if err == nil {
					if msg := checkNotified(ev, req.txid); msg != "" {
						err = errors.New(msg)
					}
				}
				if err != nil {
					t.Errorf("%s: 200 answer: %v", req.txid, err)
					continue
				}
				mu.Lock()
				r.acked[req.txid] = ackedEvent{ev.ID, ev.TrackingID}
				mu.Unlock()
				if acks.Add(1) == int64(killAfter) {
					kill()
				}
			}
		}()
	}
	wg.Wait()
	if !killed.Load() {
		t.Fatalf("%s: only %d of %d requests answered 200: the kill never happened (%v)", prefix, acks.Load(), killAfter, ph.check(ph.ctx.Err()))
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the hub did not die after SIGKILL")
	}
	var ee *exec.ExitError
	if !errors.As(p.waitErr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the hub ended with %v, want killed by SIGKILL\n%s", p.waitErr, p.log())
	}
	p.checkLog()
	return r
}

// checkAcked asserts every acknowledged event is there after the restart,
// with its accepted CREATE and NOTIFY, and that no event is half-made.
func checkAcked(t *testing.T, ph *phase, c *caller, acked map[string]ackedEvent) {
	t.Helper()
	ctx, stage := ph.ctx, ph.name
	type item struct {
		txid string
		ack  ackedEvent
	}
	items := make([]item, 0, len(acked))
	for tx, a := range acked {
		items = append(items, item{tx, a})
	}
	errs := parallel(len(items), 16, func(i int) error {
		it := items[i]
		status, b, err := c.do(ctx, "GET", eventsPath+it.ack.id, nil)
		if err != nil {
			return ph.check(fmt.Errorf("GET acknowledged event %s (transactionId %s): %w", it.ack.id, it.txid, err))
		}
		if status != http.StatusOK {
			return fmt.Errorf("acknowledged event %s (transactionId %s) lost: GET answered %d %.200s", it.ack.id, it.txid, status, b)
		}
		ev, err := decodeEvent(b)
		if err != nil {
			return err
		}
		if ev.TrackingID != it.ack.trackingID {
			return fmt.Errorf("event %s has tracking id %s, %s was acknowledged", ev.ID, ev.TrackingID, it.ack.trackingID)
		}
		if msg := checkNotified(ev, it.txid); msg != "" {
			return errors.New(msg)
		}
		return nil
	})
	if n := firstErrors(t, stage, errs, 10); n > 0 {
		timeouts, others := countTimeouts(errs)
		t.Fatalf("%s: %d of %d acknowledged events missing or damaged; %d more not checked: timeout (phase limit %s; not a lost record)",
			stage, others, len(items), timeouts, ph.limit)
	}
	sa, err := c.search(ctx, queryCreatedBirths)
	if err != nil {
		t.Fatalf("%s: %v", stage, ph.check(err))
	}
	if sa.Total != 0 {
		t.Fatalf("%s: %d events created without their notify (the two share one transaction): %+v", stage, sa.Total, sa)
	}
}

// TestKill9KeepsAcknowledgedEvents runs the real binary, kills it with
// SIGKILL twice in the middle of a create+notify load, and checks after
// each restart that every request answered 200 left its event (with its
// accepted NOTIFY), and at the end that replaying every request sent,
// answered or cut off, gives exactly one event per transaction id.
func TestKill9KeepsAcknowledgedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: builds the crvshub binary and kills it mid-load")
	}
	bin := hubBinary(t) // built outside every phase's time limit
	start := time.Now()
	logPhase := func(what string) { t.Logf("%6.2fs %s", time.Since(start).Seconds(), what) }
	dir := t.TempDir()
	setup := startPhase(t, "setup: client created with the CLI, hub started, token issued", 2*time.Minute)
	id, secret := cliCreateClient(t, setup.ctx, bin, dir)
	logPhase("client created with the CLI")

	p := startServe(t, setup.ctx, bin, dir)
	logPhase("hub ready")
	token := func() string {
		c := newCaller(p.base, "")
		defer c.close()
		return tokenFor(t, setup.ctx, c, id, secret)
	}() // issued once: it must survive both kills
	logPhase("token issued")

	const workers = 24
	allAcked := map[string]ackedEvent{}
	var allSent []sentReq
	for round, killAfter := range []int{100, 150} {
		load := startPhase(t, fmt.Sprintf("round %d: load until the kill", round+1), 2*time.Minute)
		c := newCaller(p.base, token)
		r := loadAndKill(t, load, p, c, fmt.Sprintf("kill%d", round+1), workers, killAfter)
		c.close()
		logPhase(fmt.Sprintf("round %d: killed", round+1))
		t.Logf("round %d: %d requests sent, %d answered 200, %d in flight at SIGKILL, %d cut off",
			round+1, len(r.sent), len(r.acked), r.inflightAtKill, r.failedAfter)
		if r.inflightAtKill == 0 {
			t.Errorf("round %d: no request was in flight when the hub was killed", round+1)
		}
		for tx, a := range r.acked {
			allAcked[tx] = a
		}
		allSent = append(allSent, r.sent...)

		restart := startPhase(t, fmt.Sprintf("restart after kill %d", round+1), 2*time.Minute)
		p = startServe(t, restart.ctx, bin, dir)
		logPhase("hub restarted")
		c = newCaller(p.base, token)
		check := startPhase(t, fmt.Sprintf("after kill %d", round+1), 3*time.Minute)
		checkAcked(t, check, c, allAcked)
		sa, err := c.search(check.ctx, queryCountBirths)
		if err != nil {
			t.Fatal(check.check(err))
		}
		if sa.Total < len(allAcked) || sa.Total > len(allSent) {
			t.Errorf("after kill %d: %d events, want between %d (acknowledged) and %d (sent)", round+1, sa.Total, len(allAcked), len(allSent))
		}
		c.close()
		logPhase(fmt.Sprintf("round %d: acknowledged events checked", round+1))
	}

	// Replay every request ever sent: acknowledged ones answer the same
	// event, cut-off ones are created now, and each transaction id ends up
	// with exactly one event.
	replay := startPhase(t, "replay every request sent", 4*time.Minute)
	ctx := replay.ctx
	c := newCaller(p.base, token)
	defer c.close()
	answered := make([]ackedEvent, len(allSent))
	errs := parallel(len(allSent), workers, func(i int) error {
		s := allSent[i]
		status, b, err := c.do(ctx, "POST", notifyPath, notifyBody(s.txid, s.seed))
		if err != nil {
			return replay.check(fmt.Errorf("replay %s: %w", s.txid, err))
		}
		if status != http.StatusOK {
			return fmt.Errorf("replay %s: %d %.200s", s.txid, status, b)
		}
		ev, err := decodeEvent(b)
		if err != nil {
			return err
		}
		if msg := checkNotified(ev, s.txid); msg != "" {
			return errors.New(msg)
		}
		if a, ok := allAcked[s.txid]; ok && (a.id != ev.ID || a.trackingID != ev.TrackingID) {
			return fmt.Errorf("transactionId %s maps to two events: %s (acknowledged) and %s (replay)", s.txid, a.id, ev.ID)
		}
		answered[i] = ackedEvent{ev.ID, ev.TrackingID}
		return nil
	})
	if firstErrors(t, "replay", errs, 10) > 0 {
		timeouts, others := countTimeouts(errs)
		t.Fatalf("replay: %d requests failed, %d timed out (phase limit %s)", others, timeouts, replay.limit)
	}
	logPhase("every request replayed")
	ids, tracking := map[string]string{}, map[string]string{}
	for i, a := range answered {
		if prev, ok := ids[a.id]; ok {
			t.Errorf("event %s answered for transaction ids %s and %s", a.id, prev, allSent[i].txid)
		}
		ids[a.id] = allSent[i].txid
		if prev, ok := tracking[a.trackingID]; ok {
			t.Errorf("tracking id %s answered for transaction ids %s and %s", a.trackingID, prev, allSent[i].txid)
		}
		tracking[a.trackingID] = allSent[i].txid
	}
	sa, err := c.search(ctx, queryCountBirths)
	if err != nil {
		t.Fatal(replay.check(err))
	}
	if sa.Total != len(allSent) {
		t.Errorf("%d events after replaying %d distinct requests, want exactly %d", sa.Total, len(allSent), len(allSent))
	}
	if sa, err := c.search(ctx, queryCreatedBirths); err != nil || sa.Total != 0 {
		t.Errorf("after the replay: events created without their notify: %+v %v", sa, replay.check(err))
	}
	if err := p.stop(); err != nil {
		t.Errorf("graceful stop after the test: %v\n%s", err, p.log())
	}
	logPhase("hub stopped")
	p.checkLog()
}
