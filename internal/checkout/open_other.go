//go:build !unix

package checkout

const openFlags = 0
