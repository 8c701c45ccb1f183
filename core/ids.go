package core

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"time"

	"github.com/google/uuid"
)

// TrackingIDAlphabet is 0-9A-Z without the characters people confuse
// (0/O, 1/I/L): 31 symbols.
const TrackingIDAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// TrackingIDLength is the length of a new tracking id (31^7 ≈ 2.75e10).
const TrackingIDLength = 7

// NewTrackingID returns a random tracking id. Uniqueness is enforced by the
// store; the engine draws again on a collision.
func NewTrackingID() string { return randomString(TrackingIDAlphabet, TrackingIDLength) }

// NewID returns a new UUID string: a version 7 UUID (RFC 9562), a
// millisecond timestamp followed by 74 random bits. Ids made one after
// the other sort together, so the store's indexes keyed by event or
// action id take new entries at their right edge instead of dirtying a
// random page each (one commit then writes a few pages per index, not
// one per event).
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString() // crypto/rand failed for v7: v4 panics the same way
	}
	return id.String()
}

// RegistrationNumberGenerator makes registration numbers for accepted
// REGISTER actions. Uniqueness is enforced by the store; the engine asks
// again on a collision.
type RegistrationNumberGenerator interface {
	Next(ev *EventDocument) string
}

// RandomRegistrationNumbers draws numbers of Prefix + Length characters of
// Alphabet (Farajaland's default: 12 of 0-9A-Z).
type RandomRegistrationNumbers struct{ Config RegistrationNumberConfig }

// Next implements RegistrationNumberGenerator.
func (g RandomRegistrationNumbers) Next(*EventDocument) string {
	c := g.Config
	if c.Length == 0 {
		c.Length = 12
	}
	if c.Alphabet == "" {
		c.Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	}
	return c.Prefix + randomString(c.Alphabet, c.Length)
}

func randomString(alphabet string, n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(fmt.Sprintf("crypto/rand failed: %v", err))
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// TimeLayout is the fixed-width UTC layout used wherever times are stored
// or compared as text, so that text order is time order.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// FormatTime writes t in TimeLayout (UTC).
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }
