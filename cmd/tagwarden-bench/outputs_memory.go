package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/invocation"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweices"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn"
	"github.com/tagwarden/tagwarden/adapters/outputs/local"
	"github.com/tagwarden/tagwarden/adapters/targets"
	"github.com/tagwarden/tagwarden/cmd/internal/config"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// outputsChildURLs is the first line the child prints: where it serves.
type outputsChildURLs struct {
	KMS, SMN, CES, OBS     string
	Topic, Bucket, Project string
}

// outputsChildStats is what the child prints on "stats": the calls its
// output services answered so far and the objects OBS holds.
type outputsChildStats struct {
	Calls   OutputCounts
	Objects int
	Bytes   int64
	Largest int64
	// Sizes are the bytes of each object, by kind (page, state, summary,
	// latest, report): the largest of the kind.
	Sizes map[string]int64
}

// serveOutputs is the child's side of the outputs memory measurement: a
// KMS emulator serving personKeys(n, person) and the three local output
// services, on loopback; it prints their URLs as one JSON line, then
// answers each "stats" line read from stdin with one JSON line, and exits
// when stdin closes.
func serveOutputs(n int, person float64, stdin io.Reader, stdout io.Writer) error {
	k, err := startSeeded(personKeys(n, person))
	if err != nil {
		return err
	}
	defer k.close()
	svc, err := local.Start(local.Options{})
	if err != nil {
		return err
	}
	defer svc.Close()
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(outputsChildURLs{KMS: k.url, SMN: svc.SMNURL, CES: svc.CESURL, OBS: svc.OBSURL,
		Topic: svc.Topic, Bucket: svc.Bucket, Project: svc.Project}); err != nil {
		return err
	}
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		if sc.Text() != "stats" {
			continue
		}
		st := outputsChildStats{Calls: serviceCounts(svc), Sizes: map[string]int64{}}
		for _, key := range svc.OBS.Keys(svc.Bucket) {
			b, _, ok := svc.OBS.Object(svc.Bucket, key)
			if !ok {
				continue
			}
			st.Objects++
			st.Bytes += int64(len(b))
			st.Largest = max(st.Largest, int64(len(b)))
			kind := objectKind(key)
			st.Sizes[kind] = max(st.Sizes[kind], int64(len(b)))
		}
		if err := enc.Encode(st); err != nil {
			return err
		}
	}
	return nil
}

// objectKind names an object of the report store by its file name
// (outputs.Layout).
func objectKind(key string) string {
	switch {
	case strings.HasSuffix(key, "/report.html"):
		return "page"
	case strings.HasSuffix(key, "/state.json.gz"):
		return "state"
	case strings.HasSuffix(key, "/summary.json"):
		return "summary"
	case strings.HasSuffix(key, "/latest.json"):
		return "latest"
	case strings.HasSuffix(key, ".json.gz"):
		return "report"
	}
	return "other"
}

// outputsChild is the child process of serveOutputs.
type outputsChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan error
	urls  outputsChildURLs
}

func startOutputsChild(n int, person float64) (*outputsChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this executable to run the emulators: %w", err)
	}
	cmd := exec.Command(exe, "-serve-outputs", strconv.Itoa(n), "-outputs-person", strconv.FormatFloat(person, 'g', -1, 64))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("emulators process: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("emulators process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the emulators process: %w", err)
	}
	c := &outputsChild{cmd: cmd, stdin: stdin, lines: make(chan string, 1), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	go func() { c.done <- cmd.Wait() }()
	line, err := c.line(2 * time.Minute)
	if err == nil {
		err = json.Unmarshal([]byte(line), &c.urls)
	}
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("emulators process did not print its URLs: %w", err)
	}
	return c, nil
}

func (c *outputsChild) line(wait time.Duration) (string, error) {
	select {
	case l, ok := <-c.lines:
		if !ok {
			return "", errors.New("it exited")
		}
		return l, nil
	case <-time.After(wait):
		return "", fmt.Errorf("nothing after %s", wait)
	}
}

func (c *outputsChild) stats() (outputsChildStats, error) {
	var st outputsChildStats
	if _, err := io.WriteString(c.stdin, "stats\n"); err != nil {
		return st, err
	}
	l, err := c.line(time.Minute)
	if err != nil {
		return st, fmt.Errorf("emulators process stats: %w", err)
	}
	return st, json.Unmarshal([]byte(l), &st)
}

// stop closes the child's stdin, on which it exits; it is killed (by its
// pid) if it does not within 5 seconds.
func (c *outputsChild) stop() {
	c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill() //nolint:errcheck // it may have exited
		<-c.done
	}
}

// process is the function's configuration of its outputs on the child's
// services (cmd/internal/config: what TAGWARDEN_SMN_TOPIC,
// TAGWARDEN_METRICS, TAGWARDEN_REPORT_BUCKET and the endpoint overrides
// give).
func (u outputsChildURLs) process() (config.Process, error) {
	topic, err := huaweismn.ParseTopicURN(u.Topic)
	if err != nil {
		return config.Process{}, err
	}
	return config.Process{Region: local.Region, Outputs: config.Outputs{
		Topic: topic, SMNEndpoint: u.SMN, NotifyRepeat: outputs.DefaultNotifyRepeat,
		Metrics: true, Namespace: huaweices.DefaultNamespace, CESEndpoint: u.CES,
		Bucket: u.Bucket, Prefix: outputs.DefaultPrefix, OBSEndpoint: u.OBS,
	}}, nil
}

// serialLoop is asynchronous invocation served one invocation after
// another, as one instance serves them: Dispatch queues the payload, and
// run invokes the pipeline with each in turn, keeping only what the bench
// reads of each report (not the report: it is the platform's once
// answered).
type serialLoop struct {
	mu    sync.Mutex
	queue [][]byte
	seq   int
}

func (s *serialLoop) Dispatch(_ context.Context, payload []byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, append([]byte(nil), payload...))
	return fmt.Sprintf("serial-%d", s.seq+len(s.queue)), nil
}

// linkSeen is what the bench keeps of one invocation's report.
type linkSeen struct {
	Link    int                    `json:"link"`
	Error   string                 `json:"error"`
	Chain   *handler.ChainReport   `json:"chain"`
	Totals  *handler.Counts        `json:"totals"`
	Keys    []struct{}             `json:"keys"`
	Outputs []handler.OutputReport `json:"outputs"`
}

// run serves payload and every invocation it leads to, one at a time.
func (s *serialLoop) run(ctx context.Context, pipe invocation.Pipeline, cloud func() invocation.Cloud, payload string) ([]linkSeen, error) {
	s.mu.Lock()
	s.queue = append(s.queue, []byte(payload))
	s.mu.Unlock()
	var seen []linkSeen
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return seen, nil
		}
		p := s.queue[0]
		s.queue = s.queue[1:]
		s.seq++
		id := fmt.Sprintf("serial-%d", s.seq)
		s.mu.Unlock()
		ictx, cancel := context.WithTimeout(handler.WithRequestID(ctx, id), orgTimeout)
		body, err := pipe.Invoke(ictx, p, cloud())
		cancel()
		if err != nil {
			return seen, fmt.Errorf("invocation %s: %w", id, err)
		}
		var l linkSeen
		if err := json.Unmarshal(body, &l); err != nil {
			return seen, fmt.Errorf("invocation %s: %w", id, err)
		}
		seen = append(seen, l)
	}
}

// heapSampler reads this process's heap every interval, as the memory
// measurement does: the heap in use and the live heap the last GC marked.
type heapSampler struct {
	stop       chan struct{}
	wg         sync.WaitGroup
	peak, live uint64
	count      int
}

// baselineHeap lets what earlier work left wind down, frees it, resets
// the kernel's peak RSS record and returns the heap in use and the GC
// cycles so far, and whether the RSS record was reset (measureMemory's
// preparation).
func baselineHeap() (heap, gcs uint64, rss bool) {
	http.DefaultClient.CloseIdleConnections()
	debug.FreeOSMemory()
	time.Sleep(200 * time.Millisecond)
	debug.FreeOSMemory()
	rss = resetPeakRSS()
	s := []metrics.Sample{{Name: mHeap}, {Name: mGCs}}
	readMetrics(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64(), rss
}

func startSampler(every time.Duration) *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		m := []metrics.Sample{{Name: mHeap}, {Name: mLive}}
		for {
			readMetrics(m)
			h.peak = max(h.peak, m[0].Value.Uint64())
			h.live = max(h.live, m[1].Value.Uint64())
			h.count++
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) finish() {
	close(h.stop)
	h.wg.Wait()
}

// measureOutputsMemory runs two sweeps of n keys (about person of them
// needing a person) through the function's pipeline in this process, the
// KMS emulator and the output services in a child process, with the
// outputs on (with) or off, chained into links by the function's default
// report budget, sampling this process's heap. The second run reads what
// the first stored (the latest pointer and the state).
func measureOutputsMemory(ctx context.Context, e *policy.Engine, n int, person float64, with bool, sample time.Duration, concurrency int) ([]OutputsMemory, error) {
	child, err := startOutputsChild(n, person)
	if err != nil {
		return nil, err
	}
	defer child.stop()
	proc, err := child.urls.process()
	if err != nil {
		return nil, err
	}
	t := targets.Target{Region: local.Region, ProjectID: emulator.DefaultProject, Endpoint: child.urls.KMS}
	cfg := handler.DefaultConfig() // the report budget: 10,000 entries, 5 MiB
	cfg.Concurrency = concurrency
	loop := &serialLoop{}
	// As cmd/bootstrap: the recorder of the process (its Options from the
	// configuration), a store and the output clients opened per
	// invocation with its credentials, the KMS pacer of the process
	// (unlimited here).
	pipe := invocation.Pipeline{Handler: handler.New(e, cfg, nil), Runs: invocation.Runs{
		Targets:  targets.Config{Static: []targets.Target{t}, Own: t},
		MaxChain: invocation.DefaultMaxChain, Memory: &invocation.Memory{},
	}}
	creds := huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK}
	if with {
		pipe.Runs.Outputs = proc.Recorder(t.Name(), nil)
	}
	cloud := func() invocation.Cloud {
		c := invocation.Cloud{
			Store:      func(_ context.Context, t targets.Target) (handler.KeyStore, error) { return openStore(e, t) },
			Dispatcher: func(context.Context) (invocation.Dispatcher, error) { return loop, nil },
		}
		if with {
			c.Outputs = func(context.Context) (outputs.Clients, error) { return proc.OutputClients(&creds, t.ProjectID) }
		}
		return c
	}
	var rows []OutputsMemory
	prev, err := child.stats()
	if err != nil {
		return nil, err
	}
	for run := 1; run <= 2; run++ {
		r := OutputsMemory{Keys: n, Person: person, Run: run, Outputs: with}
		base, gc0, rss := baselineHeap()
		hs := startSampler(sample)
		start := time.Now()
		seen, err := loop.run(ctx, pipe, cloud, `{"action":"sweep"}`)
		d := time.Since(start)
		hs.finish()
		if err != nil {
			return rows, fmt.Errorf("run %d: %w", run, err)
		}
		s := []metrics.Sample{{Name: mGCs}}
		readMetrics(s)
		r.BaselineMiB, r.PeakMiB, r.PeakLiveMiB = mib(base), mib(hs.peak), mib(hs.live)
		r.GCs, r.Samples, r.Seconds = s[0].Value.Uint64()-gc0, hs.count, d.Seconds()
		if rss {
			r.PeakRSSMiB = peakRSSMiB()
		}
		r.Links = len(seen)
		for i, l := range seen {
			r.Entries += len(l.Keys)
			if l.Link != i+1 {
				r.Problems = append(r.Problems, fmt.Sprintf("links %d and %d: not one link after another", i, l.Link))
			}
			if l.Error != "" {
				r.Problems = append(r.Problems, fmt.Sprintf("link %d: %s", l.Link, l.Error))
			}
			for _, o := range l.Outputs {
				if !o.OK {
					r.Problems = append(r.Problems, fmt.Sprintf("link %d: output %s %s failed: %s", l.Link, o.Output, o.What, o.Error))
				}
			}
		}
		if len(seen) > 0 {
			last := seen[len(seen)-1]
			if last.Chain == nil || last.Chain.State != handler.ChainDone || last.Totals == nil || last.Totals.Scanned != n {
				r.Problems = append(r.Problems, fmt.Sprintf("the last link (%d) did not finish the sweep of %d keys: %+v %+v", last.Link, n, last.Chain, last.Totals))
			} else {
				r.NeedPerson = last.Totals.Violating + last.Totals.Failed
			}
		}
		st, err := child.stats()
		if err != nil {
			return rows, err
		}
		r.Calls = st.Calls.minus(prev.Calls)
		prev = st
		r.Objects, r.StoredMiB, r.LargestKiB = st.Objects, mib(uint64(st.Bytes)), float64(st.Largest)/1024
		r.ObjectKiB = map[string]float64{}
		for k, b := range st.Sizes {
			r.ObjectKiB[k] = float64(b) / 1024
		}
		if with {
			if want := expectedCalls(r.Links, run > 1, r.Calls.SMN > 0); r.Calls != want {
				r.Problems = append(r.Problems, fmt.Sprintf("output calls %s, want %s", r.Calls, want))
			}
		} else if r.Calls.Total() != 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("output calls %s without outputs", r.Calls))
		}
		rows = append(rows, r)
	}
	return rows, nil
}
