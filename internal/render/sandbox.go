package render

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// A chart is code: its templates may loop for as long as they like, and
// build strings as large as memory allows, and Go's template engine cannot
// be stopped from outside. So a run renders in worker processes, pinbot
// itself started again (WorkerEnv set), each under a memory ceiling, with
// a deadline per render that kills the worker, and a bound on what a
// render may return. A worker that dies is replaced for the next render.

// Bounds of one render in a worker.
const (
	// MaxMemory is the heap a worker may grow to before its runtime stops
	// it (and the most address space it may map, well above it).
	MaxMemory = 1 << 30
	// MaxOutput is the most bytes a render's manifests may add up to.
	MaxOutput = 64 << 20
	// maxRequest bounds a request a worker reads (a chart and a values
	// file, each read with pinbot's limit on a file).
	maxRequest = 512 << 20
)

// WorkerEnv is the environment variable that makes pinbot a render
// worker: a process that reads render requests on standard input and
// answers each on standard output.
const WorkerEnv = "PINBOT_RENDER_WORKER"

// ErrKilled is a render a worker did not finish: past its deadline, past
// its memory, or dead.
var ErrKilled = errors.New("the render was stopped")

// request is a render: the chart's files by name, each as the digest of
// its bytes, with the bytes of those the worker has not been sent yet.
type request struct {
	Names  map[string]string // file name -> content key
	Bodies map[string][]byte // content key -> bytes, new to the worker
	Values []byte
	Kube   string // the Kubernetes version; "": Helm's default
}

// contentKey names a file's bytes.
func contentKey(data []byte) string {
	sum := sha256.Sum256(data)
	return string(sum[:16])
}

// maxStore bounds the bytes of file bodies a worker keeps between renders.
const maxStore = 256 << 20

type answer struct {
	Out map[string]string
	Err string
	// TooLarge: the render was past MaxOutput.
	TooLarge bool
}

// RunWorkerIfAsked makes this process a render worker, and exits, when
// WorkerEnv says so; otherwise it returns at once. Call it first in main
// (and in a test binary's TestMain, which a test's sandbox starts again).
func RunWorkerIfAsked() {
	if os.Getenv(WorkerEnv) != "1" {
		return
	}
	os.Exit(worker(os.Stdin, os.Stdout))
}

func worker(in io.Reader, out io.Writer) int {
	// A worker's heap starts empty and is its renders' alone: collected
	// less often than the default, it spends its time rendering (the
	// memory limit still bounds it).
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(MaxMemory / 2)
	limitAddressSpace(4 * MaxMemory)
	r := bufio.NewReader(in)
	w := bufio.NewWriter(out)
	store, stored := map[string][]byte{}, 0
	for {
		var req request
		if err := readFrame(r, maxRequest, &req); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintln(os.Stderr, "render worker:", err)
			return 1
		}
		for k, b := range req.Bodies {
			store[k] = b
			stored += len(b)
		}
		files := make(Files, len(req.Names))
		for name, k := range req.Names {
			b, ok := store[k]
			if !ok {
				fmt.Fprintln(os.Stderr, "render worker: a file it was never sent:", name)
				return 1
			}
			files[name] = b
		}
		if stored > maxStore { // the parent forgets it all too (see Sandbox.Render)
			store, stored = map[string][]byte{}, 0
		}
		var a answer
		rendered, err := RenderAt(context.Background(), files, req.Values, req.Kube)
		total := 0
		for _, s := range rendered {
			total += len(s)
		}
		switch {
		case err != nil:
			a.Err = err.Error()
		case total > MaxOutput:
			a.TooLarge = true
		default:
			a.Out = rendered
		}
		if err := writeFrame(w, a); err != nil {
			return 1
		}
	}
}

// readFrame reads a length-prefixed gob value of at most limit bytes.
func readFrame(r io.Reader, limit int, v any) error {
	var n uint32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return err
	}
	if int(n) > limit {
		return fmt.Errorf("a message of %d bytes, over %d", n, limit)
	}
	return gob.NewDecoder(io.LimitReader(r, int64(n))).Decode(v)
}

type countWriter struct {
	buf []byte
}

func (c *countWriter) Write(p []byte) (int, error) { c.buf = append(c.buf, p...); return len(p), nil }

// writeFrame writes v as a length-prefixed gob value, and flushes.
func writeFrame(w *bufio.Writer, v any) error {
	var c countWriter
	if err := gob.NewEncoder(&c).Encode(v); err != nil {
		return err
	}
	if err := binary.Write(w, binary.BigEndian, uint32(len(c.buf))); err != nil {
		return err
	}
	if _, err := w.Write(c.buf); err != nil {
		return err
	}
	return w.Flush()
}

// Sandbox renders charts in worker processes, as many at once as it has
// workers. Its zero value is not usable: see NewSandbox.
type Sandbox struct {
	keys    sync.Map // file bytes (their first byte's address and length) -> content key
	exe     string
	timeout time.Duration
	idle    chan *proc
	slots   chan struct{}
	mu      sync.Mutex
	all     map[*proc]bool
	closed  bool
}

type proc struct {
	known  map[string]bool // content keys the worker holds
	stored int             // and their bytes
	cmd    *exec.Cmd
	stdin  io.Closer
	in     *bufio.Writer
	out    *bufio.Reader
	stderr *tail
}

// tail keeps the first bytes written to it after each render: a worker's
// last words (a runtime's fatal error comes first, its stacks after).
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := 4096 - len(t.buf); room > 0 {
		t.buf = append(t.buf, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

// why is what a dead worker said of its end, on one line.
func (t *tail) why() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, line := range strings.Split(string(t.buf), "\n") {
		if strings.HasPrefix(line, "fatal error: ") || strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "render worker: ") {
			return line
		}
	}
	return ""
}

// NewSandbox is a sandbox of up to n workers (GOMAXPROCS when n <= 0),
// started as they are needed from this process's own executable, each
// render given timeout (Timeout when 0).
func NewSandbox(n int, timeout time.Duration) (*Sandbox, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("rendering charts apart from pinbot: %w", err)
	}
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	if timeout <= 0 {
		timeout = Timeout
	}
	s := &Sandbox{exe: exe, timeout: timeout, idle: make(chan *proc, n), slots: make(chan struct{}, n), all: map[*proc]bool{}}
	return s, nil
}

// Render renders as Render does, in a worker.
func (s *Sandbox) Render(ctx context.Context, files Files, values []byte) (map[string]string, error) {
	return s.RenderAt(ctx, files, values, "")
}

// RenderAt renders as RenderAt does, in a worker.
func (s *Sandbox) RenderAt(ctx context.Context, files Files, values []byte, kube string) (map[string]string, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.slots }()
	var p *proc
	select {
	case p = <-s.idle:
	default:
		var err error
		if p, err = s.start(); err != nil {
			return nil, err
		}
	}
	req := request{Names: make(map[string]string, len(files)), Bodies: map[string][]byte{}, Values: values, Kube: kube}
	for name, data := range files {
		k := s.key(data)
		req.Names[name] = k
		if !p.known[k] {
			p.known[k] = true
			p.stored += len(data)
			req.Bodies[k] = data
		}
	}
	if p.stored > maxStore { // as the worker does after this render
		p.known, p.stored = map[string]bool{}, 0
	}
	type result struct {
		a   answer
		err error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		if res.err = writeFrame(p.in, req); res.err == nil {
			res.err = readFrame(p.out, MaxOutput*2, &res.a)
		}
		done <- res
	}()
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	select {
	case res := <-done:
		if res.err != nil {
			// the worker died (past its memory) or spoke nonsense
			s.kill(p)
			why := p.stderr.why()
			if why == "" {
				why = res.err.Error()
			}
			return nil, fmt.Errorf("%w: the process rendering the chart ended (%s), as one does past %d MiB of memory", ErrKilled, why, MaxMemory>>20)
		}
		s.put(p)
		if res.a.TooLarge {
			return nil, fmt.Errorf("%w: the chart renders more than %d MiB of manifests", ErrKilled, MaxOutput>>20)
		}
		if res.a.Err != "" {
			return nil, errors.New(res.a.Err)
		}
		return res.a.Out, nil
	case <-timer.C:
		s.kill(p)
		<-done
		return nil, fmt.Errorf("%w: past %s", ErrKilled, s.timeout)
	case <-ctx.Done():
		s.kill(p)
		<-done
		return nil, ctx.Err()
	}
}

type keyed struct {
	data []byte
	key  string
}

// Warm starts the sandbox's workers in the background, for renders soon
// to come.
func (s *Sandbox) Warm() {
	for range cap(s.slots) {
		go func() {
			if p, err := s.start(); err == nil {
				s.put(p)
			}
		}()
	}
}

// key is the content key of data, worked out once for each slice a run
// hands in (a chart's files are the same slices render after render).
func (s *Sandbox) key(data []byte) string {
	if len(data) == 0 {
		return contentKey(data)
	}
	id := [2]uintptr{uintptr(unsafe.Pointer(unsafe.SliceData(data))), uintptr(len(data))}
	if k, ok := s.keys.Load(id); ok {
		return k.(keyed).key
	}
	// the entry holds the slice, so its address names these bytes alone
	// for as long as the sandbox lives (files are never changed in place)
	k := contentKey(data)
	s.keys.Store(id, keyed{data, k})
	return k
}

// workerEnv is a worker's whole environment: the variable that makes it
// one, and nothing of pinbot's own (no token, no registry credentials
// reach the process that runs a chart's templates).
func workerEnv() []string { return []string{WorkerEnv + "=1"} }

func (s *Sandbox) start() (*proc, error) {
	cmd := exec.Command(s.exe)
	cmd.Env = workerEnv()
	stderr := &tail{}
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting a render worker: %w", err)
	}
	p := &proc{cmd: cmd, stdin: in, in: bufio.NewWriter(in), out: bufio.NewReader(out), stderr: stderr, known: map[string]bool{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, errors.New("the sandbox is closed")
	}
	s.all[p] = true
	return p, nil
}

func (s *Sandbox) put(p *proc) {
	select {
	case s.idle <- p:
	default:
		s.kill(p)
	}
}

func (s *Sandbox) kill(p *proc) {
	s.mu.Lock()
	delete(s.all, p)
	s.mu.Unlock()
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// Close stops every worker.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	s.closed = true
	procs := make([]*proc, 0, len(s.all))
	for p := range s.all {
		procs = append(procs, p)
	}
	s.all = map[*proc]bool{}
	s.mu.Unlock()
	// an idle worker ends when its input does; one that does not is killed
	for _, p := range procs {
		p.stdin.Close()
	}
	for _, p := range procs {
		exited := make(chan struct{})
		go func() { p.cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(time.Second):
			p.cmd.Process.Kill()
			<-exited
		}
	}
	return nil
}
