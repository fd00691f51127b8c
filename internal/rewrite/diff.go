package rewrite

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// diffContext is the lines of context around each change, as diff -u.
const diffContext = 3

// WriteDiff writes a unified diff (a/ and b/ paths, three lines of
// context) of what edits make of old, hunk by hunk as it goes: the edits
// say which lines change, so no line is compared with another. A change's
// new text is made when it is written, and dropped: the diff of a file of
// half a million changed lines holds, beyond old, one small record a
// change. Edits that overlap, or fall outside old, are an error and write
// nothing. Edits may be reordered (see Changes).
func WriteDiff(w io.Writer, path string, old []byte, edits []Edit) error {
	es, err := normalise(old, edits)
	if err != nil || len(es) == 0 {
		return err
	}
	d := &differ{old: old, starts: diffLines(old), es: es}
	changes := d.changes()
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "--- a/%s\n+++ b/%s\n", path, path)
	delta := 0 // lines the changes so far add
	for i := 0; i < len(changes); {
		// one hunk: the changes whose contexts meet
		j := i + 1
		for j < len(changes) && changes[j].from-changes[j-1].to <= 2*diffContext {
			j++
		}
		delta = d.writeHunk(bw, changes[i:j], delta)
		i = j
	}
	return bw.Flush()
}

// differ is what a diff reads: the old bytes, where their lines start, and
// the sorted edits.
type differ struct {
	old    []byte
	starts []int
	es     []Edit
	buf    []byte // a change's text, made again for each
}

// change is the old lines [from, to) (0-based; from == to for lines only
// inserted before from), replaced by the text edits [k0, k1) make of them
// (lines long).
type change struct {
	from, to int
	k0, k1   int
	insert   bool // lines only inserted: the text is the edits' texts
	lines    int
}

// diffLines is the offset each line of data starts at, and len(data) at
// the end when the last line ends with a newline or data is empty.
func diffLines(data []byte) []int {
	starts := make([]int, 1, bytes.Count(data, []byte("\n"))+2)
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// lineAt is the line holding offset off.
func lineAt(starts []int, off int) int {
	lo, hi := 0, len(starts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if starts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// lineEnd is the offset just past line n of data.
func lineEnd(data []byte, starts []int, n int) int {
	if n+1 < len(starts) {
		return starts[n+1]
	}
	return len(data)
}

// changes groups the edits into changes of whole lines.
func (d *differ) changes() []change {
	old, starts, es := d.old, d.starts, d.es
	var out []change
	for k := 0; k < len(es); {
		e := es[k]
		from := lineAt(starts, e.Start)
		if e.Start == e.End && e.Start == starts[from] && len(e.Text) > 0 && e.Text[len(e.Text)-1] == '\n' &&
			(e.Start < len(old) || len(old) == 0 || old[len(old)-1] == '\n') {
			// whole lines inserted before line from
			c := change{from: from, to: from, k0: k, insert: true}
			for k++; k < len(es) && es[k].Start == e.Start && es[k].End == e.End && es[k].Text != "" && es[k].Text[len(es[k].Text)-1] == '\n'; k++ {
			}
			c.k1 = k
			c.lines = countLines(d.text(c))
			out = append(out, c)
			continue
		}
		k0 := k
		to := from + 1
		if e.End > e.Start {
			to = lineAt(starts, e.End-1) + 1
		}
		// every later edit that touches these lines joins them
		k++
		for k < len(es) && es[k].Start < lineEnd(old, starts, to-1) {
			if es[k].End > es[k].Start {
				to = max(to, lineAt(starts, es[k].End-1)+1)
			}
			k++
		}
		c := change{from: from, to: to, k0: k0, k1: k}
		c.lines = countLines(d.text(c))
		out = append(out, c)
	}
	return out
}

// text is the new text of change c, in d's buffer: valid until the next call.
func (d *differ) text(c change) []byte {
	text := d.buf[:0]
	if c.insert {
		for _, x := range d.es[c.k0:c.k1] {
			text = append(text, x.Text...)
		}
		d.buf = text
		return text
	}
	lo, hi := d.starts[c.from], lineEnd(d.old, d.starts, c.to-1)
	prev := lo
	for _, x := range d.es[c.k0:c.k1] {
		text = append(text, d.old[prev:x.Start]...)
		text = append(text, x.Text...)
		prev = x.End
	}
	text = append(text, d.old[prev:hi]...)
	d.buf = text
	return text
}

// writeHunk writes one hunk of changes (delta: the lines earlier changes
// added) and returns delta after it.
func (d *differ) writeHunk(w *bufio.Writer, cs []change, delta int) int {
	old, starts := d.old, d.starts
	nLines := len(starts)
	if len(old) == 0 || old[len(old)-1] == '\n' {
		nLines-- // starts ends with the offset past the last newline
	}
	first := max(cs[0].from-diffContext, 0)
	last := min(cs[len(cs)-1].to+diffContext, nLines)
	oldCount, newCount := last-first, last-first
	for _, c := range cs {
		newCount += c.lines - (c.to - c.from)
	}
	newFirst := first + delta
	fmt.Fprintf(w, "@@ -%s +%s @@\n", hunkRange(first, oldCount), hunkRange(newFirst, newCount))
	line := func(prefix byte, text []byte) {
		w.WriteByte(prefix)
		w.Write(text)
		if len(text) == 0 || text[len(text)-1] != '\n' {
			w.WriteString("\n\\ No newline at end of file\n")
		}
	}
	context := func(from, to int) {
		for n := from; n < to; n++ {
			line(' ', old[starts[n]:lineEnd(old, starts, n)])
		}
	}
	at := first
	for _, c := range cs {
		context(at, c.from)
		for n := c.from; n < c.to; n++ {
			line('-', old[starts[n]:lineEnd(old, starts, n)])
		}
		for rest := d.text(c); len(rest) > 0; {
			n := bytes.IndexByte(rest, '\n') + 1
			if n == 0 {
				n = len(rest)
			}
			line('+', rest[:n])
			rest = rest[n:]
		}
		delta += c.lines - (c.to - c.from)
		at = c.to
	}
	context(at, last)
	return delta
}

// countLines is the lines of text, a last one without a newline included.
func countLines(text []byte) int {
	n := bytes.Count(text, []byte("\n"))
	if len(text) > 0 && text[len(text)-1] != '\n' {
		n++
	}
	return n
}

// hunkRange is a hunk's "start,count" (1-based; an empty range names the
// line before it).
func hunkRange(first, count int) string {
	if count == 0 {
		return fmt.Sprintf("%d,0", first)
	}
	if count == 1 {
		return fmt.Sprintf("%d", first+1)
	}
	return fmt.Sprintf("%d,%d", first+1, count)
}
