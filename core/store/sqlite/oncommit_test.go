package sqlite

import (
	"context"
	"sync"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// TestOnCommitSeesEveryCommit: Options.OnCommit hears of each commit with
// its batch size and times; the batch sizes add up to the writes, and the
// commit count matches Stats.
func TestOnCommitSeesEveryCommit(t *testing.T) {
	var mu sync.Mutex
	var seen []CommitInfo
	s := openTemp(t, Options{OnCommit: func(ci CommitInfo) {
		mu.Lock()
		seen = append(seen, ci)
		mu.Unlock()
	}})
	before := s.Stats()
	const n = 64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Write(context.Background(), func(core.Tx) error { return nil }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	after := s.Stats()
	mu.Lock()
	defer mu.Unlock()
	if got := uint64(len(seen)); got != after.Commits-before.Commits {
		t.Errorf("OnCommit called %d times for %d commits", got, after.Commits-before.Commits)
	}
	writes := 0
	for _, ci := range seen {
		writes += ci.Writes
		if ci.Writes < 1 || ci.Commit <= 0 || ci.Transaction < ci.Commit {
			t.Errorf("implausible commit %+v", ci)
		}
	}
	if writes != n {
		t.Errorf("batch sizes add up to %d, want %d writes", writes, n)
	}
}
