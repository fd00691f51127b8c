package rewrite

import (
	"fmt"
	"sort"
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
	seen := make(map[Edit]bool, len(edits))
	var es []Edit
	for _, e := range edits {
		if !seen[e] {
			seen[e] = true
			es = append(es, e)
		}
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Start != es[j].Start {
			return es[i].Start < es[j].Start
		}
		return es[i].End < es[j].End
	})
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
