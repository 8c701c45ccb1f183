package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crvshub/crvshub/adapters/keyfile"
	"github.com/crvshub/crvshub/adapters/mosip"
	"github.com/crvshub/crvshub/testharness/mockpartners"
	"github.com/crvshub/crvshub/testharness/mosipmock"
)

type runningMock struct {
	mock     *mosipmock.Mock
	settings *mosip.Settings
}

// startMOSIPMock starts the MOSIP mock on a loopback port, trusting the
// hub's partner certificate from the data folder, and returns the partner
// settings that point the hub at it.
func startMOSIPMock(dataDir, profile string, log *slog.Logger) (*runningMock, error) {
	p, err := parseProfile(profile)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	m, settings, err := mockpartners.StartMOSIP(dataDir, p, log.With("component", "mosip-mock"))
	if err != nil {
		return nil, err
	}
	return &runningMock{mock: m, settings: settings}, nil
}

// parseProfile reads "latency=50ms,errorRate=0.2,down,flapping=5s,neverCallBack,callBackTwice,badSignature,unknownPacket,callbackDelay=1s".
func parseProfile(s string) (mosipmock.Profile, error) {
	var p mosipmock.Profile
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, hasV := strings.Cut(part, "=")
		dur := func() (time.Duration, error) {
			d, err := time.ParseDuration(v)
			if err != nil || !hasV || d < 0 {
				return 0, fmt.Errorf("mock profile %s: want a duration such as 50ms", k)
			}
			return d, nil
		}
		var err error
		switch k {
		case "latency":
			p.Latency, err = dur()
		case "flapping":
			p.Flapping, err = dur()
		case "callbackDelay":
			p.CallbackDelay, err = dur()
		case "errorRate":
			p.ErrorRate, err = strconv.ParseFloat(v, 64)
			if err != nil || p.ErrorRate < 0 || p.ErrorRate > 1 {
				err = fmt.Errorf("mock profile errorRate: want a number from 0 to 1")
			}
		case "down":
			p.Down = true
		case "neverCallBack":
			p.NeverCallBack = true
		case "callBackTwice":
			p.CallBackTwice = true
		case "badSignature":
			p.BadSignature = true
		case "unknownPacket":
			p.UnknownPacket = true
		default:
			err = fmt.Errorf("mock profile: unknown setting %q", k)
		}
		if err != nil {
			return p, err
		}
	}
	return p, nil
}

// mocks serves the MOSIP mock alone (for a hub started elsewhere).
func mocks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mocks", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:20240", "listen address of the MOSIP mock")
	certFile := fs.String("partner-cert", "", "the hub's partner certificate (PEM): credentials are encrypted to it (e.g. <data>/keys/mosip-partner.crt)")
	profile := fs.String("profile", "", "fault profile, e.g. latency=50ms,errorRate=0.2")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *certFile == "" {
		return usageError{"mocks: --partner-cert is required (the hub creates <data>/keys/mosip-partner.crt when it starts with a mosip partner)"}
	}
	cert, err := keyfile.ReadCertificate(*certFile)
	if err != nil {
		return err
	}
	p, err := parseProfile(*profile)
	if err != nil {
		return usageError{err.Error()}
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	m, err := mosipmock.New(mosipmock.Config{PartnerCert: cert, Profile: p, Log: log})
	if err != nil {
		return err
	}
	url, err := m.Start(*addr)
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Fprintf(stdout, "MOSIP mock at %s\n  credential key (allow-list): %s\n  any authmanager client id/secret is accepted\n", url, m.PublicKeyURL())
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
