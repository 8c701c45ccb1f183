package app

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core/store/sqlite"
)

// TestOpenStoreOptions: Options.Store reaches sqlite.Open, and its
// Synchronous wins over Options.Synchronous (an invalid level is how the
// test sees which one the store got: sqlite.Open refuses it).
func TestOpenStoreOptions(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	cases := []struct {
		name    string
		o       Options
		wantErr bool
	}{
		{"defaults", Options{}, false},
		{"Store.Synchronous reaches the store", Options{Store: sqlite.Options{Synchronous: "bogus"}}, true},
		{"Store.Synchronous wins", Options{Synchronous: "FULL", Store: sqlite.Options{Synchronous: "bogus"}}, true},
		{"Synchronous still applies", Options{Synchronous: "bogus"}, true},
		{"Synchronous fills an empty Store.Synchronous", Options{Synchronous: "NORMAL", Store: sqlite.Options{MaxBatch: 1}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.o.DataDir, c.o.Log, c.o.SecretCost = t.TempDir(), log, 4
			a, err := Open(context.Background(), c.o)
			if err == nil {
				a.Close()
			}
			if c.wantErr != (err != nil) {
				t.Fatalf("Open: err = %v, want error: %v", err, c.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "Synchronous") {
				t.Errorf("Open: %v, want the store's Synchronous error", err)
			}
		})
	}
}

// TestOpenTrustedProxies: IPs and CIDRs are taken; anything else is
// refused by Open, naming the entry, rather than silently trusted or
// dropped.
func TestOpenTrustedProxies(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	cases := []struct {
		proxies []string
		bad     string // "" = accepted
	}{
		{nil, ""},
		{[]string{"10.0.0.0/8", "192.168.1.7", "::1", "fd00::/8"}, ""},
		{[]string{"10.0.0.0/33"}, "10.0.0.0/33"},
		{[]string{"10.0.0.1", "proxy.example"}, "proxy.example"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.proxies, ","), func(t *testing.T) {
			a, err := Open(context.Background(), Options{DataDir: t.TempDir(), Log: log, SecretCost: 4, TrustedProxies: c.proxies})
			if err == nil {
				a.Close()
			}
			if c.bad == "" && err != nil {
				t.Fatalf("Open: %v", err)
			}
			if c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)) {
				t.Fatalf("Open: err = %v, want one naming %q", err, c.bad)
			}
		})
	}
}
