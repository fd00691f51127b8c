//go:build unix

package render

import "syscall"

// limitAddressSpace bounds the memory this process may map: a template
// that builds a string past it fails to allocate, and the worker dies
// rather than the machine swapping.
func limitAddressSpace(n uint64) {
	syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: n, Max: n})
}
