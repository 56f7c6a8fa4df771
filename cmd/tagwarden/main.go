package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first Ctrl-C stops the work cleanly; a second one kills.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, &globals{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0 // compliant, or the command succeeded
	exitError = 1 // an error: bad flags, bad policies, credentials, network, a failed key
	exitFound = 2 // violations found or changes needed (plan), violations remaining (apply), failing cases (test)
)

// exitCodeError ends the command with a code; err, when set, is printed.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitCodeError) Unwrap() error { return e.err }

// withCode makes a command exit with code, printing nothing more.
func withCode(code int) error {
	if code == exitOK {
		return nil
	}
	return &exitCodeError{code: code}
}

// run executes the command line with g's standard streams and returns the
// process exit code.
func run(ctx context.Context, g *globals, args []string) int {
	stderr := g.stderr
	root := newRootCmd(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitError
	var ec *exitCodeError
	if errors.As(err, &ec) {
		code = ec.code
		err = ec.err
	}
	if err != nil {
		fmt.Fprintf(stderr, "tagwarden: %v\n", err)
	}
	return code
}
