//go:build unix

package checkout

import "syscall"

// openFlags keep a read from waiting on a FIFO swapped in after the look.
const openFlags = syscall.O_NONBLOCK
