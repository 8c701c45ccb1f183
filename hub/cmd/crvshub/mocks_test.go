package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/adapters/mosip"
	"github.com/crvshub/crvshub/testharness/mosipmock"
)

// TestMocksCommand: `crvshub mocks` serves the MOSIP mock on the given
// address for a hub whose partner certificate it is given.
func TestMocksCommand(t *testing.T) {
	dir := t.TempDir()
	certFile := filepath.Join(dir, "partner.crt")
	if _, _, err := mosip.PartnerKey(filepath.Join(dir, "partner.pem"), certFile); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"mocks"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--partner-cert is required") {
		t.Fatalf("mocks without a certificate: %v", err)
	}
	if err := run(context.Background(), []string{"mocks", "--partner-cert", certFile, "--profile", "bogus"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "unknown setting") {
		t.Fatalf("mocks with a bad profile: %v", err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{b: &bytes.Buffer{}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"mocks", "--addr", addr, "--partner-cert", certFile, "--profile", "latency=1ms", "--log-level", "warn"}, out, io.Discard)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("mocks: %v", err)
		}
	}()
	var doc struct {
		Type         string `json:"type"`
		PublicKeyPem string `json:"publicKeyPem"`
	}
	deadline := time.Now().Add(time.Minute) // generous: polling ends when serving
	for {
		res, err := http.Get("http://" + addr + "/.well-known/public-key.json")
		if err == nil {
			err = json.NewDecoder(res.Body).Decode(&doc)
			res.Body.Close()
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timeout: mock not serving: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if doc.Type != "RsaVerificationKey2018" || !strings.Contains(doc.PublicKeyPem, "PUBLIC KEY") {
		t.Fatalf("public key document %+v", doc)
	}
	if !strings.Contains(out.String(), "MOSIP mock at http://"+addr) {
		t.Fatalf("mocks printed %q", out.String())
	}
}

func TestParseProfile(t *testing.T) {
	p, err := parseProfile("latency=50ms, errorRate=0.2,down,flapping=5s,neverCallBack,callBackTwice,badSignature,unknownPacket,callbackDelay=1s")
	if err != nil {
		t.Fatal(err)
	}
	want := mosipmock.Profile{Latency: 50 * time.Millisecond, ErrorRate: 0.2, Down: true, Flapping: 5 * time.Second, NeverCallBack: true,
		CallBackTwice: true, BadSignature: true, UnknownPacket: true, CallbackDelay: time.Second}
	if p != want {
		t.Fatalf("parseProfile = %+v, want %+v", p, want)
	}
	for _, bad := range []string{"latency", "latency=fast", "errorRate=2", "errorRate=x", "sideways"} {
		if _, err := parseProfile(bad); err == nil {
			t.Errorf("parseProfile(%q) accepted", bad)
		}
	}
}
