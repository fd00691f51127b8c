package size

import "testing"

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{"32MiB": 32 << 20, "512KiB": 512 << 10, "1GiB": 1 << 30, "4096": 4096, "64MB": 64 << 20, "8 MiB": 8 << 20} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "lots", "1TiB0", "99999999999GiB"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) accepted", in)
		}
	}
}

// TestStaleTempFiles: the temporary files of a killed run are never
// scanned, and RemoveTemp removes exactly those.
