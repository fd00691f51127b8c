//go:build unix

package main

import (
	"os"
	"syscall"
	"time"
)

// usage is a finished process's peak RSS in MB and its kernel CPU time.
func usage(ps *os.ProcessState) (float64, time.Duration) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0
	}
	return float64(ru.Maxrss) / 1024, time.Duration(ru.Stime.Nano())
}
