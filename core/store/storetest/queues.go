package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
)

// testQueues checks the outbox, correlations and dead letters: messages
// exist exactly when their write committed, in order, once.
func testQueues(t *testing.T, fresh func(*testing.T) core.Store) {
	ctx := context.Background()
	queues := func(t *testing.T) (core.Store, core.Queues) {
		s := fresh(t)
		q, ok := s.(core.Queues)
		if !ok {
			t.Fatalf("%T does not implement core.Queues", s)
		}
		return s, q
	}
	msg := func(i int) core.OutboxMessage {
		return core.OutboxMessage{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Topic: "nationalid.mosip",
			Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), Metadata: map[string]string{"correlation_id": fmt.Sprint("c", i)}, CreatedAt: at(0)}
	}

	t.Run("OutboxCommitAndRollback", func(t *testing.T) {
		s, q := queues(t)
		write(t, s, func(tx core.Tx) error {
			for i := 1; i <= 3; i++ {
				if err := tx.Enqueue(msg(i)); err != nil {
					return err
				}
			}
			return nil
		})
		boom := errors.New("boom")
		if err := s.Write(ctx, func(tx core.Tx) error {
			if err := tx.Enqueue(msg(4)); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("Write = %v, want boom", err)
		}
		if err := s.Write(ctx, func(tx core.Tx) error { return tx.Enqueue(msg(2)) }); !errors.Is(err, core.ErrDuplicate) {
			t.Fatalf("enqueue of a stored id = %v, want ErrDuplicate", err)
		}
		got, err := q.PendingOutbox(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("pending = %d messages, want 3 (the rolled-back one must not exist)", len(got))
		}
		for i, m := range got {
			want := msg(i + 1)
			if m.ID != want.ID || m.Topic != want.Topic || string(m.Payload) != string(want.Payload) ||
				m.Metadata["correlation_id"] != want.Metadata["correlation_id"] || !m.CreatedAt.Equal(want.CreatedAt) {
				t.Errorf("pending[%d] = %+v, want %+v", i, m, want)
			}
			if i > 0 && m.Seq <= got[i-1].Seq {
				t.Errorf("pending not in seq order: %d after %d", m.Seq, got[i-1].Seq)
			}
		}
		if n, err := q.OutboxLen(ctx); err != nil || n != 3 {
			t.Fatalf("OutboxLen = %d, %v; want 3", n, err)
		}
		first, err := q.PendingOutbox(ctx, 2)
		if err != nil || len(first) != 2 {
			t.Fatalf("PendingOutbox(2) = %d, %v", len(first), err)
		}
		if err := q.DeleteOutbox(ctx, first[0].Seq, first[1].Seq); err != nil {
			t.Fatal(err)
		}
		rest, err := q.PendingOutbox(ctx, 10)
		if err != nil || len(rest) != 1 || rest[0].ID != msg(3).ID {
			t.Fatalf("after delete: %+v, %v", rest, err)
		}
	})

	t.Run("Correlations", func(t *testing.T) {
		s, q := queues(t)
		c := core.Correlation{Partner: "mosip", Key: "1000110004000000000000000001", EventID: "e1", ActionID: "a1",
			ActionType: core.ActionRegister, RegistrationNumber: "R1", CreatedAt: at(0), Data: json.RawMessage(`{"x":1}`)}
		if err := q.PutCorrelation(ctx, c); err != nil {
			t.Fatal(err)
		}
		c2 := c
		c2.RegistrationNumber = "R2"
		if err := q.PutCorrelation(ctx, c2); err != nil {
			t.Fatalf("put again (upsert): %v", err)
		}
		got, err := q.Correlation(ctx, "mosip", c.Key)
		if err != nil {
			t.Fatal(err)
		}
		if got.EventID != "e1" || got.ActionID != "a1" || got.RegistrationNumber != "R2" || string(got.Data) != `{"x":1}` || !got.CreatedAt.Equal(c.CreatedAt) {
			t.Fatalf("correlation = %+v", got)
		}
		if _, err := q.Correlation(ctx, "osia", c.Key); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("other partner: %v, want ErrNotFound", err)
		}
		// by event: this partner's, oldest first
		older := core.Correlation{Partner: "mosip", Key: "k-older", EventID: "e1", ActionID: "a0", ActionType: core.ActionRegister, CreatedAt: at(-time.Hour)}
		other := core.Correlation{Partner: "osia", Key: "k-osia", EventID: "e1", ActionID: "a9", ActionType: core.ActionRegister, CreatedAt: at(0)}
		for _, x := range []core.Correlation{older, other} {
			if err := q.PutCorrelation(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		byEvent, err := q.EventCorrelations(ctx, "mosip", "e1")
		if err != nil || len(byEvent) != 2 || byEvent[0].Key != "k-older" || byEvent[1].Key != c.Key {
			t.Fatalf("EventCorrelations(mosip, e1) = %+v, %v", byEvent, err)
		}
		if none, err := q.EventCorrelations(ctx, "mosip", "e2"); err != nil || len(none) != 0 {
			t.Fatalf("EventCorrelations(mosip, e2) = %+v, %v", none, err)
		}
		write(t, s, func(tx core.Tx) error {
			in, err := tx.Correlation("mosip", c.Key)
			if err != nil || in.RegistrationNumber != "R2" {
				return fmt.Errorf("in tx: %+v, %w", in, err)
			}
			return tx.DeleteCorrelation("mosip", c.Key)
		})
		if _, err := q.Correlation(ctx, "mosip", c.Key); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("after delete: %v, want ErrNotFound", err)
		}
		if err := q.DeleteCorrelation(ctx, "mosip", c.Key); err != nil {
			t.Fatalf("deleting an absent correlation: %v", err)
		}
		if err := q.PutCorrelation(ctx, core.Correlation{Partner: "mosip"}); err == nil {
			t.Fatal("a correlation without key/event/action was stored")
		}
	})

	t.Run("DeadLetters", func(t *testing.T) {
		s, q := queues(t)
		for i := 1; i <= 3; i++ {
			m := msg(i)
			if err := q.PutDeadLetter(ctx, core.DeadLetter{ID: m.ID, Topic: m.Topic, Handler: "mosip", Payload: m.Payload,
				Metadata: m.Metadata, Error: "createPacket: 500", Attempts: 5, FailedAt: at(0)}); err != nil {
				t.Fatal(err)
			}
		}
		// the same message failing again after a replay is dead again, with
		// the attempts added up
		write(t, s, func(tx core.Tx) error { return tx.SetDeadLetterStatus(msg(1).ID, core.DeadLetterReplayed, "", at(1)) })
		if err := q.PutDeadLetter(ctx, core.DeadLetter{ID: msg(1).ID, Topic: "nationalid.mosip", Handler: "mosip",
			Payload: msg(1).Payload, Error: "again", Attempts: 2, FailedAt: at(2)}); err != nil {
			t.Fatal(err)
		}
		write(t, s, func(tx core.Tx) error {
			return tx.SetDeadLetterStatus(msg(3).ID, core.DeadLetterDiscarded, "duplicate of a registered record", at(3))
		})
		dead, err := q.DeadLetters(ctx, core.DeadLetterFilter{Status: core.DeadLetterDead})
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 2 || dead[0].ID != msg(1).ID || dead[1].ID != msg(2).ID {
			t.Fatalf("dead = %+v, want messages 1 and 2 in arrival order", dead)
		}
		if dead[0].Attempts != 7 || dead[0].Error != "again" || string(dead[0].Payload) != `{"n":1}` || dead[0].Metadata["correlation_id"] != "c1" {
			t.Errorf("re-dead letter = %+v", dead[0])
		}
		disc, err := q.DeadLetters(ctx, core.DeadLetterFilter{IDs: []string{msg(3).ID}})
		if err != nil || len(disc) != 1 || disc[0].Status != core.DeadLetterDiscarded || disc[0].Reason != "duplicate of a registered record" {
			t.Fatalf("discarded = %+v, %v", disc, err)
		}
		if err := s.Write(ctx, func(tx core.Tx) error {
			return tx.SetDeadLetterStatus("nope", core.DeadLetterDiscarded, "x", at(0))
		}); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("status of an unknown dead letter: %v, want ErrNotFound", err)
		}
		if all, err := q.DeadLetters(ctx, core.DeadLetterFilter{Limit: 2}); err != nil || len(all) != 2 {
			t.Fatalf("limit 2: %d, %v", len(all), err)
		}
		// A long id list (more than SQLite's 32,766 bound variables).
		many := make([]string, 40000)
		for i := range many {
			many[i] = fmt.Sprintf("unknown-%d", i)
		}
		many[20000] = msg(3).ID
		if got, err := q.DeadLetters(ctx, core.DeadLetterFilter{IDs: many}); err != nil || len(got) != 1 || got[0].ID != msg(3).ID {
			t.Fatalf("40,000 ids: %d, %v", len(got), err)
		}
	})
}
