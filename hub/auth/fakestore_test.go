package auth

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crvshub/crvshub/core"
)

// fakeStore is an in-memory core.Store holding clients and audit entries
// only; the event methods fail. Write works on copies and commits them only
// when fn succeeds, like a transaction.
type fakeStore struct {
	mu      sync.Mutex
	clients map[string]core.Client
	audit   []core.AuditEntry

	clientReads atomic.Int64
	failRead    error // returned by Client when set
	failAudit   error // returned by Tx.Audit when set
}

func newFakeStore() *fakeStore { return &fakeStore{clients: map[string]core.Client{}} }

var errNoEvents = errors.New("fake store: events not supported")

func (s *fakeStore) Write(ctx context.Context, fn func(tx core.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := &fakeTx{s: s, clients: maps.Clone(s.clients), audit: slices.Clone(s.audit)}
	if err := fn(tx); err != nil {
		return err
	}
	s.clients, s.audit = tx.clients, tx.audit
	return nil
}

func (s *fakeStore) Event(context.Context, string) (*core.EventDocument, error) {
	return nil, errNoEvents
}

func (s *fakeStore) EventIDByTrackingID(context.Context, string) (string, error) {
	return "", errNoEvents
}

func (s *fakeStore) Search(context.Context, core.SearchFilter) (core.SearchPage, error) {
	return core.SearchPage{}, errNoEvents
}

func (s *fakeStore) Client(_ context.Context, id string) (*core.Client, error) {
	s.clientReads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failRead != nil {
		return nil, s.failRead
	}
	c, ok := s.clients[id]
	if !ok {
		return nil, core.ErrNotFound
	}
	c.Scopes = slices.Clone(c.Scopes)
	return &c, nil
}

func (s *fakeStore) Clients(context.Context) ([]core.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Collect(maps.Values(s.clients))
	slices.SortFunc(out, func(a, b core.Client) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

func (s *fakeStore) Audit(_ context.Context, f core.AuditFilter) ([]core.AuditEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []core.AuditEntry
	for _, e := range s.audit {
		if (f.ObjectID == "" || e.ObjectID == f.ObjectID) && (f.ActorID == "" || e.ActorID == f.ActorID) {
			out = append(out, e)
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func (s *fakeStore) Close() error { return nil }

// setFailRead makes Client fail with err (nil = succeed again).
func (s *fakeStore) setFailRead(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failRead = err
}

// deleteClient removes a client, as another process might.
func (s *fakeStore) deleteClient(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.clients, id)
}

// setStatus changes a client's status directly, as another process
// writing the same database might.
func (s *fakeStore) setStatus(id string, st core.ClientStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[id]
	c.Status = st
	s.clients[id] = c
}

type fakeTx struct {
	// core.Tx is nil: the messaging methods (outbox, correlations, dead
	// letters) are not used by the client service and panic if called.
	core.Tx
	s       *fakeStore
	clients map[string]core.Client
	audit   []core.AuditEntry
}

func (t *fakeTx) Event(string) (*core.EventDocument, error) { return nil, errNoEvents }
func (t *fakeTx) EventByTransaction(string, string, string) (*core.EventDocument, error) {
	return nil, errNoEvents
}
func (t *fakeTx) InsertEvent(*core.EventDocument) error                 { return errNoEvents }
func (t *fakeTx) ReserveRegistrationNumber(string, string) error        { return errNoEvents }
func (t *fakeTx) ReleaseRegistrationNumber(string, string) error        { return errNoEvents }
func (t *fakeTx) AppendActions(string, time.Time, ...core.Action) error { return errNoEvents }
func (t *fakeTx) PutIndex(*core.IndexRow) error                         { return errNoEvents }

func (t *fakeTx) PutClient(c *core.Client) error {
	cc := *c
	cc.Scopes = slices.Clone(c.Scopes)
	t.clients[c.ID] = cc
	return nil
}

func (t *fakeTx) Client(id string) (*core.Client, error) {
	c, ok := t.clients[id]
	if !ok {
		return nil, core.ErrNotFound
	}
	c.Scopes = slices.Clone(c.Scopes)
	return &c, nil
}

func (t *fakeTx) Audit(e core.AuditEntry) error {
	if t.s.failAudit != nil {
		return t.s.failAudit
	}
	e.Seq = int64(len(t.audit) + 1)
	t.audit = append(t.audit, e)
	return nil
}
