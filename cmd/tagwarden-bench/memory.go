package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tagwarden/tagwarden/policy"
)

// MemoryResult is the heap of the process running one sweep, the emulator
// being another process.
type MemoryResult struct {
	Keys int `json:"keys"`
	// NonCompliant is the fraction of keys needing changes: the report
	// keeps an entry for each of them.
	NonCompliant float64 `json:"non_compliant"`
	// BaselineMiB is the live heap before the sweep (after a GC): the
	// engine, the SDK's tables, the bench itself.
	BaselineMiB float64 `json:"baseline_heap_mib"`
	// PeakMiB is the largest heap in use (live and not yet collected
	// objects) sampled during the sweep, every SampleMS.
	PeakMiB float64 `json:"peak_heap_mib"`
	// PeakLiveMiB is the largest live heap a GC cycle marked during the
	// sweep: the footprint without garbage, less noisy than PeakMiB (which
	// the GC lets grow to about twice the live heap).
	PeakLiveMiB float64 `json:"peak_live_heap_mib"`
	// PeakOverBaselineMiB is what the sweep itself added at its peak.
	PeakOverBaselineMiB float64 `json:"peak_over_baseline_mib"`
	// AllocPerKeyB is the bytes allocated per key over the sweep (garbage
	// included): the GC's work, not the footprint.
	AllocPerKeyB float64 `json:"alloc_bytes_per_key"`
	GCs          uint64  `json:"gc_cycles"`
	// PeakRSSMiB is the process's peak resident memory during the sweep
	// (VmHWM after resetting it through /proc/self/clear_refs; 0 where
	// that is not available): binary, runtime and heap together.
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	Samples    int     `json:"samples"`
	SampleMS   float64 `json:"sample_ms"`
	Seconds    float64 `json:"sweep_seconds"`
}

const (
	mHeap   = "/memory/classes/heap/objects:bytes"
	mAllocs = "/gc/heap/allocs:bytes"
	mGCs    = "/gc/cycles/total:gc-cycles"
	mLive   = "/gc/heap/live:bytes"
)

func readMetrics(s []metrics.Sample) { metrics.Read(s) }

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// childEmulator is the emulator in a child process (this binary, run with
// -serve-emulator), so that its memory is not counted.
type childEmulator struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
	done  chan error
}

func startChildEmulator(n int, ratio float64) (*childEmulator, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this executable to run the emulator: %w", err)
	}
	cmd := exec.Command(exe, "-serve-emulator", strconv.Itoa(n), "-non-compliant", strconv.FormatFloat(ratio, 'g', -1, 64))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("emulator process: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("emulator process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the emulator process: %w", err)
	}
	c := &childEmulator{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout) //nolint:errcheck // drain
	}()
	go func() { c.done <- cmd.Wait() }()
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, "http://") {
			c.stop()
			return nil, fmt.Errorf("emulator process did not print its URL (got %q)", line)
		}
		c.url = line
	case <-time.After(2 * time.Minute):
		c.stop()
		return nil, errors.New("emulator process: no URL after 2 minutes")
	}
	return c, nil
}

// stop closes the child's stdin, on which it exits; it is killed (by its
// pid) if it does not within 5 seconds.
func (c *childEmulator) stop() {
	c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill() //nolint:errcheck // it may have exited
		<-c.done
	}
}

// serveEmulator is the child's side: serve n generated keys on loopback,
// print the URL, and exit when stdin closes.
func serveEmulator(n int, ratio float64, stdin io.Reader, stdout io.Writer) error {
	k, err := startKMS(genKeys(n, ratio))
	if err != nil {
		return err
	}
	defer k.close()
	fmt.Fprintln(stdout, k.url)
	io.Copy(io.Discard, stdin) //nolint:errcheck // EOF or error: either way, stop
	return nil
}

// measureMemory sweeps n keys served by a child emulator process, sampling
// this process's heap every sample.
func measureMemory(ctx context.Context, e *policy.Engine, n int, ratio float64, sample time.Duration, concurrency int) (MemoryResult, error) {
	r := MemoryResult{Keys: n, NonCompliant: ratio, SampleMS: float64(sample) / float64(time.Millisecond)}
	child, err := startChildEmulator(n, ratio)
	if err != nil {
		return r, err
	}
	defer child.stop()
	store, err := newStore(child.url, storeOptions{})
	if err != nil {
		return r, err
	}
	s := []metrics.Sample{{Name: mHeap}, {Name: mAllocs}, {Name: mGCs}}
	// Let what earlier measurements left wind down (closed servers' and
	// idle connections' goroutines) before taking the baseline.
	http.DefaultClient.CloseIdleConnections()
	debug.FreeOSMemory()
	time.Sleep(200 * time.Millisecond)
	debug.FreeOSMemory()
	rssReset := resetPeakRSS()
	readMetrics(s)
	base, alloc0, gc0 := s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64()

	var (
		wg    sync.WaitGroup
		peak  uint64
		live  uint64
		count int
	)
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(sample)
		defer t.Stop()
		m := []metrics.Sample{{Name: mHeap}, {Name: mLive}}
		for {
			readMetrics(m)
			peak = max(peak, m[0].Value.Uint64())
			live = max(live, m[1].Value.Uint64())
			count++
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	rep, d, err := runSweep(ctx, e, store, concurrency)
	close(stop)
	wg.Wait()
	readMetrics(s)
	if err != nil {
		return r, err
	}
	if rep.Scanned != n {
		return r, fmt.Errorf("memory sweep scanned %d keys, want %d", rep.Scanned, n)
	}
	r.BaselineMiB, r.PeakMiB, r.PeakLiveMiB = mib(base), mib(peak), mib(live)
	r.PeakOverBaselineMiB = mib(peak - min(peak, base))
	r.AllocPerKeyB = float64(s[1].Value.Uint64()-alloc0) / float64(n)
	r.GCs = s[2].Value.Uint64() - gc0
	r.Samples, r.Seconds = count, d.Seconds()
	if rssReset {
		r.PeakRSSMiB = peakRSSMiB()
	}
	runtime.KeepAlive(rep)
	return r, nil
}

// resetPeakRSS resets the kernel's record of this process's peak resident
// memory (Linux: "5" to /proc/self/clear_refs) and reports whether it could.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSSMiB reads VmHWM from /proc/self/status, or 0.
func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" && f[2] == "kB" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
