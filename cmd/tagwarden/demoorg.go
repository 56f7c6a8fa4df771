package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/invocation"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/local"
	"github.com/tagwarden/tagwarden/adapters/targets"
	"github.com/tagwarden/tagwarden/cmd/internal/config"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// The organisation step of the demo: a second region with a project of its
// own, one sweep over both.
const (
	demoRegion       = "ap-southeast-1"
	demoRegion2      = "cn-north-4"
	demoProject2     = "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
	demoReportPerRun = 25 // report entries per link: the second region's sweep continues itself
)

// demoOrg is what the organisation step did: the fan-out's report, every
// link's report, and the log lines the run wrote.
type demoOrg struct {
	Fanout handler.Report   `json:"fanout"`
	Links  []handler.Report `json:"links"`
	// Messages are the notifications the runs published (the local SMN).
	Messages []outputs.Message `json:"messages"`
	// Metrics counts the metric data points the runs sent (the local
	// Cloud Eye).
	Metrics int `json:"metrics"`
	logs    []byte
}

// lockedBuffer is a buffer the links' goroutines log into.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// runDemoOrg starts a second region's emulator with n sample keys, and runs
// one sweep over both regions as the function does: a fan-out, one
// asynchronous invocation per target (here within this process, as
// invocation.Loopback), each target's sweep continuing itself link by link.
//
// The runs' outputs go to svc: each target's run ends with its report,
// summary and page stored in the local OBS, its notification published to
// the local SMN, its metrics sent to the local Cloud Eye.
func runDemoOrg(ctx context.Context, cfg config.Process, engine *policy.Engine, url1 string, n int, svc *local.Services) (demoOrg, error) {
	srv, err := emulator.New(emulator.Options{
		Projects:  []string{demoProject2},
		AccessKey: emulator.DefaultAK,
		SecretKey: emulator.DefaultSK,
		Seed:      emulator.SampleKeys(n, demoSeed+1),
	})
	if err != nil {
		return demoOrg{}, fmt.Errorf("demo emulator: %w", err)
	}
	url2, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		return demoOrg{}, fmt.Errorf("demo emulator: %w", err)
	}
	defer srv.Close()

	logs := &lockedBuffer{}
	log := logrus.New()
	log.SetFormatter(&logrus.JSONFormatter{})
	log.SetOutput(logs)
	hc := cfg.Handler
	hc.MaxReportKeys = demoReportPerRun
	dry := false
	hc.DryRun = dry
	pacers := huaweikms.NewPacers(cfg.RateLimit)
	creds := &huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK}
	loop := &invocation.Loopback{}
	loop.Pipeline = invocation.Pipeline{Handler: handler.New(engine, hc, log), Runs: invocation.Runs{
		Targets: targets.Config{Static: []targets.Target{
			{Region: demoRegion, ProjectID: emulator.DefaultProject, Endpoint: url1},
			{Region: demoRegion2, ProjectID: demoProject2, Endpoint: url2},
		}},
		MaxChain: config.DefaultMaxChain,
		Memory:   &invocation.Memory{},
		Log:      log,
		Outputs:  outputs.New(outputs.Options{Own: demoRegion + "/" + emulator.DefaultProject, Log: log}),
	}}
	loop.Cloud = func(context.Context) invocation.Cloud {
		return invocation.Cloud{
			Store: func(_ context.Context, t targets.Target) (handler.KeyStore, error) {
				kc := cfg.KMS(engine, nil)
				kc.Region, kc.Endpoint, kc.ProjectID = t.Region, t.Endpoint, t.ProjectID
				kc.Pacer, kc.Credentials = pacers.For(t.Name()), creds
				return huaweikms.New(kc)
			},
			Dispatcher: func(context.Context) (invocation.Dispatcher, error) { return loop, nil },
			Outputs:    func(context.Context) (outputs.Clients, error) { return svc.Clients() },
		}
	}
	var out demoOrg
	ctx = handler.WithRequestID(ctx, "demo-timer")
	out.Fanout, err = loop.Pipeline.Run(ctx, handler.Request{Mode: handler.ModeSweep, Trigger: handler.TriggerTimer, DryRun: &dry}, loop.Cloud(ctx))
	if err != nil {
		return out, err
	}
	loop.Wait()
	for _, d := range loop.Deliveries() {
		if d.Err != nil {
			return out, fmt.Errorf("link %s: %w", d.RequestID, d.Err)
		}
		out.Links = append(out.Links, d.Report)
	}
	out.logs = logs.b.Bytes()
	for _, p := range svc.SMN.Published() {
		msg := outputs.Message{Subject: p.Subject, Body: p.Message}
		for _, a := range p.Attributes {
			msg.Attributes = append(msg.Attributes, outputs.Attribute{Name: a.Name, Values: a.Values})
		}
		out.Messages = append(out.Messages, msg)
	}
	out.Metrics = len(svc.CES.Points())
	return out, nil
}

// writeDemoOrg prints the organisation step: the fan-out, then the run as
// tagwarden runs tells it from the logs.
func writeDemoOrg(g *globals, org demoOrg) error {
	w := g.stdout
	fmt.Fprintf(w, "   a timer fanned out run %s to %d targets (one asynchronous invocation each);\n", org.Fanout.Run, len(org.Fanout.Targets))
	fmt.Fprintf(w, "   each target's sweep continued itself, at most %d report entries a link; %d invocations in all.\n", demoReportPerRun, 1+len(org.Links))
	fmt.Fprintln(w, "   What tagwarden runs reads from their logs:")
	fmt.Fprintln(w)
	rep, err := readRuns(bytes.NewReader(org.logs), org.Fanout.Run)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := writeRunsText(&b, rep); err != nil {
		return err
	}
	for _, line := range bytes.Split(bytes.TrimRight(b.Bytes(), "\n"), []byte("\n")) {
		if len(line) > 0 {
			fmt.Fprintf(w, "   %s\n", line)
		} else {
			fmt.Fprintln(w)
		}
	}
	return nil
}

// orgDone reports whether every target of the run finished.
func (o demoOrg) done() bool {
	finished := 0
	for _, l := range o.Links {
		if l.Chain != nil && l.Chain.State == handler.ChainDone {
			finished++
		}
	}
	return finished == len(o.Fanout.Targets) && len(o.Fanout.Targets) > 0
}
