// Command pinbot pins the container images a repository names to their
// digests, and keeps them current through pull requests.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/pinbot/pinbot/internal/pin"
	"github.com/pinbot/pinbot/internal/render"
)

// Exit codes.
const (
	exitOK      = 0
	exitWork    = 1 // --check found references to pin or update
	exitUsage   = 2 // bad flags, arguments or configuration
	exitFailure = 3 // some references could not be resolved or files written
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error // nil: nothing more to print
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func main() {
	render.RunWorkerIfAsked() // pinbot started again to render charts
	os.Exit(mainCode())
}

// mainCode runs pinbot as a process: under a soft memory limit (pin.LimitMemory), SIGINT and
// SIGTERM ending the run (exit 130 and 143), and the exit code.
func mainCode() int {
	pin.LimitMemory()
	ctx, sig := withSignals(context.Background())
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if s := sig(); s != nil {
		code = signalCode(s)
	}
	return code
}

// withSignals is a context that SIGINT and SIGTERM cancel, and a function
// telling which signal did, if one did. A second signal kills at once.
func withSignals(parent context.Context) (context.Context, func() os.Signal) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	var got atomic.Value
	go func() {
		s := <-ch
		got.Store(s)
		cancel()
		s = <-ch
		os.Exit(signalCode(s))
	}()
	return ctx, func() os.Signal {
		s, _ := got.Load().(os.Signal)
		return s
	}
}

// signalCode is the shell's exit status for a process ended by s: 128+n.
func signalCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 130
}

// run executes pinbot with args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "pinbot:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "pinbot:", err)
	return exitUsage
}
