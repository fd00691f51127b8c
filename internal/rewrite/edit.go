package rewrite

import (
	"fmt"
	"slices"
)

// An Edit replaces the bytes [Start, End) of the original file with Text.
// Start == End inserts.
type Edit struct {
	Start, End int
	Text       string
}

// Apply splices edits into the original bytes. Identical edits count once;
// insertions at one offset keep the order they were given in; overlapping
// edits are an error, and the original is then left unchanged.
func Apply(data []byte, edits []Edit) ([]byte, error) {
	if len(edits) == 0 {
		return data, nil
	}
	return apply(data, append([]Edit(nil), edits...))
}

// Changes tells whether edits change data: an edit whose text is not the
// bytes it replaces. Overlapping edits are an error, as for Apply. It
// returns the edits as Apply reads them, sorted and each once, in edits'
// own array: a file naming an image 450,000 times has as many edits, and
// a copy of them would be the run's largest allocation.
func Changes(data []byte, edits []Edit) (bool, []Edit, error) {
	es, err := normalise(data, edits)
	if err != nil {
		return false, edits, err
	}
	for _, e := range es {
		if e.Text != string(data[e.Start:e.End]) {
			return true, es, nil
		}
	}
	return false, es, nil
}

// apply is Apply that may reorder edits.
func apply(data []byte, es []Edit) ([]byte, error) {
	uniq, err := normalise(data, es)
	if err != nil || len(uniq) == 0 {
		return data, err
	}
	size := len(data)
	for _, e := range uniq {
		size += len(e.Text) - (e.End - e.Start)
	}
	out := make([]byte, 0, size)
	prev := 0
	for _, e := range uniq {
		out = append(out, data[prev:e.Start]...)
		out = append(out, e.Text...)
		prev = e.End
	}
	return append(out, data[prev:]...), nil
}

// normalise sorts edits by offset (insertions at one offset in the order
// given), drops repeats, and checks that none overlaps another or falls
// outside data. It may reorder es, and returns a prefix of it.
func normalise(data []byte, es []Edit) ([]Edit, error) {
	if len(es) == 0 {
		return nil, nil
	}
	slices.SortStableFunc(es, func(a, b Edit) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return a.End - b.End
	})
	// Identical edits count once. They sort next to each other (with, at
	// most, other insertions at the same offset between them).
	n := 0
	for i, e := range es {
		dup := false
		for j := n - 1; j >= 0 && es[j].Start == e.Start && es[j].End == e.End; j-- {
			if es[j].Text == e.Text {
				dup = true
				break
			}
		}
		if !dup {
			es[n] = es[i]
			n++
		}
	}
	es = es[:n]
	uniq := es[:1]
	for _, e := range es[1:] {
		last := uniq[len(uniq)-1]
		if e.Start < last.End {
			return nil, fmt.Errorf("conflicting edits at bytes %d-%d and %d-%d", last.Start, last.End, e.Start, e.End)
		}
		uniq = append(uniq, e)
	}
	for _, e := range uniq {
		if e.Start < 0 || e.End < e.Start || e.End > len(data) {
			return nil, fmt.Errorf("edit %d-%d outside the file (%d bytes)", e.Start, e.End, len(data))
		}
	}
	return uniq, nil
}
