//go:build !unix

package render

// limitAddressSpace is the worker's soft memory limit alone here: the
// system has no address-space limit pinbot sets.
func limitAddressSpace(uint64) {}
