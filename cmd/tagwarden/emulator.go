package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/outputs/local"
)

// emulatorFlags are the knobs of "tagwarden emulator".
type emulatorFlags struct {
	seedFile, listen                     string
	projects                             []string
	ak, sk, token                        string
	sample                               int
	sampleSeed                           int64
	maxTags                              int
	documentedShapes, bulkOmitUntagged   bool
	latency                              time.Duration
	rateLimit                            float64
	burst                                int
	errorRate, rate500, rate502, rate504 float64
	dropRate                             float64
	unauthorized                         bool
	outputs                              bool
}

func newEmulatorCmd(g *globals) *cobra.Command {
	var f emulatorFlags
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Serve the local KMS emulator",
		Long: `Emulator serves a local, strict emulator of the Huawei Cloud KMS calls tagwarden uses
(list-keys, describe-key, resource_instances/action, tags, tags/action), for trying the
function under a local runtime or the CLI without a cloud. It verifies SDK-HMAC-SHA256
signatures against the AK/SK it is given, enforces the tag rules, and answers as the live
service does.

With --outputs it also serves strict local emulators of the three outputs (SMN
PublishMessage, Cloud Eye metric-data, OBS object put and get), with the same credentials and
project, and prints the variables that point the function's outputs at them.

It is seeded from a JSON array of keys in the API's resource shape
([{"resource_id", "resource_detail": {KeyDetails...}, "tags": [{"key","value"}]}]), or with
--sample N generated keys. It prints where it listens and serves until interrupted.`,
		Example: `  # Sample keys on a fixed port
  tagwarden emulator --listen 127.0.0.1:8443 --sample 300

  # Your own keys, a slow and flaky service
  tagwarden emulator --seed keys.json --listen 127.0.0.1:8443 --latency 50ms --error-rate 0.05 --rate-limit 20

  # Then, in another terminal
  tagwarden plan --endpoint http://127.0.0.1:8443 --project-id 0b1f2e3d4c5b6a79887766554433221a`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEmulator(cmd, g, f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.seedFile, "seed", "", "JSON file of keys to start with (the API's resource shape)")
	fs.IntVar(&f.sample, "sample", 0, "start with this many generated sample keys (added to --seed)")
	fs.Int64Var(&f.sampleSeed, "sample-seed", 1, "random seed of the sample keys")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:0", "address to listen on (port 0 picks a free one)")
	fs.StringArrayVar(&f.projects, "project-id", []string{emulator.DefaultProject}, "project id it serves (repeatable); seed keys without one go to the first")
	fs.StringVar(&f.ak, "ak", emulator.DefaultAK, "access key it accepts")
	fs.StringVar(&f.sk, "sk", emulator.DefaultSK, "secret key it accepts")
	fs.StringVar(&f.token, "security-token", "", "security token it requires (temporary credentials); empty = none")
	fs.IntVar(&f.maxTags, "max-tags", 10, "tags allowed per key")
	fs.BoolVar(&f.documentedShapes, "documented-shapes", false, "answer in the SDK's documented shapes instead of the live service's")
	fs.BoolVar(&f.bulkOmitUntagged, "bulk-omit-untagged", false, "leave keys without tags out of the bulk tag listing")
	fs.DurationVar(&f.latency, "latency", 0, "added to every response")
	fs.Float64Var(&f.rateLimit, "rate-limit", 0, "requests per second before answering 429 APIG.0308 (0 = no limit)")
	fs.IntVar(&f.burst, "burst", 0, "burst of the rate limit (0 = the rate)")
	fs.Float64Var(&f.errorRate, "error-rate", 0, "fraction of calls answered 500, 502 or 504 (spread evenly)")
	fs.Float64Var(&f.rate500, "rate-500", 0, "fraction of calls answered 500")
	fs.Float64Var(&f.rate502, "rate-502", 0, "fraction of calls answered 502")
	fs.Float64Var(&f.rate504, "rate-504", 0, "fraction of calls answered 504")
	fs.Float64Var(&f.dropRate, "drop-rate", 0, "fraction of connections dropped without an answer")
	fs.BoolVar(&f.unauthorized, "unauthorized", false, "answer every call 401, as for expired credentials")
	fs.BoolVar(&f.outputs, "outputs", false, "also serve local SMN, Cloud Eye and OBS for the function's outputs")
	return cmd
}

func runEmulator(cmd *cobra.Command, g *globals, f emulatorFlags) error {
	for name, v := range map[string]float64{"error-rate": f.errorRate, "rate-500": f.rate500, "rate-502": f.rate502, "rate-504": f.rate504, "drop-rate": f.dropRate} {
		if v < 0 || v > 1 {
			return fmt.Errorf("--%s: %v is not a fraction between 0 and 1", name, v)
		}
	}
	if f.rateLimit < 0 || f.latency < 0 || f.sample < 0 || f.burst < 0 {
		return fmt.Errorf("--rate-limit, --latency, --sample and --burst cannot be negative")
	}
	if len(f.projects) == 0 {
		return fmt.Errorf("--project-id: at least one project is needed")
	}
	var seed []emulator.SeedKey
	if f.seedFile != "" {
		file, err := os.Open(f.seedFile)
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		seed, err = emulator.LoadSeed(file)
		file.Close()
		if err != nil {
			return fmt.Errorf("seed %s: %w", f.seedFile, err)
		}
	}
	if f.sample > 0 {
		seed = append(seed, emulator.SampleKeys(f.sample, f.sampleSeed)...)
	}
	srv, err := emulator.New(emulator.Options{
		Projects:         f.projects,
		AccessKey:        f.ak,
		SecretKey:        f.sk,
		SecurityToken:    f.token,
		MaxTags:          f.maxTags,
		DocumentedShapes: f.documentedShapes,
		BulkOmitUntagged: f.bulkOmitUntagged,
		Seed:             seed,
	})
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	share := f.errorRate / 3
	srv.SetFaults(emulator.Faults{
		Latency:      f.latency,
		RateLimit:    f.rateLimit,
		Burst:        f.burst,
		Rate500:      f.rate500 + share,
		Rate502:      f.rate502 + share,
		Rate504:      f.rate504 + share,
		DropRate:     f.dropRate,
		Unauthorized: f.unauthorized,
	})
	url, err := srv.Listen(f.listen)
	if err != nil {
		return fmt.Errorf("emulator: listen on %s: %w", f.listen, err)
	}
	defer srv.Close()

	w := g.stdout
	fmt.Fprintf(w, "KMS emulator listening on %s (%d keys, project %s)\n", url, len(srv.Keys(f.projects[0])), f.projects[0])
	fmt.Fprintf(w, "  export TAGWARDEN_KMS_ENDPOINT=%s\n", url)
	fmt.Fprintf(w, "  export HUAWEICLOUD_SDK_PROJECT_ID=%s\n", f.projects[0])
	fmt.Fprintf(w, "  export HUAWEICLOUD_SDK_AK=%s\n", f.ak)
	if f.sk == emulator.DefaultSK {
		// The default key is public; a secret key the user chose is never echoed.
		fmt.Fprintf(w, "  export HUAWEICLOUD_SDK_SK=%s\n", f.sk)
	} else {
		fmt.Fprintln(w, "  export HUAWEICLOUD_SDK_SK=<the --sk you gave>")
	}
	if f.token != "" {
		fmt.Fprintln(w, "  export HUAWEICLOUD_SDK_SECURITY_TOKEN=<the --security-token you gave>")
	}
	if f.outputs {
		svc, err := local.Start(local.Options{Credentials: huaweikms.Credentials{AccessKey: f.ak, SecretKey: f.sk, SecurityToken: f.token},
			Project: f.projects[0]})
		if err != nil {
			return fmt.Errorf("outputs: %w", err)
		}
		defer svc.Close()
		fmt.Fprintf(w, "Outputs: SMN on %s (topic %s), Cloud Eye on %s, OBS on %s (bucket %s)\n", svc.SMNURL, svc.Topic, svc.CESURL, svc.OBSURL, svc.Bucket)
		env := svc.Env()
		names := slices.Sorted(maps.Keys(env))
		fmt.Fprintf(w, "  export TAGWARDEN_REGION=%s\n", local.Region)
		for _, k := range names {
			fmt.Fprintf(w, "  export %s=%s\n", k, env[k])
		}
	}
	fmt.Fprintln(w, "Press Ctrl-C to stop.")

	<-cmd.Context().Done()
	fmt.Fprintln(g.stderr, "emulator: stopping")
	return nil
}
