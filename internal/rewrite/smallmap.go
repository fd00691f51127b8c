package rewrite

// smallMap is a map whose first few entries are looked through rather than
// hashed: most of the maps a scan keeps (a mapping's keys, a document's
// collections, a file's edit texts) hold a handful, and a Go map costs an
// allocation and a hash for each. Its zero value is empty.
type smallMap[K comparable, V any] struct {
	keys [8]K
	vals [8]V
	n    int     // entries in keys and vals
	m    map[K]V // all of them, once there are more
}

func (s *smallMap[K, V]) get(k K) (V, bool) {
	if s.m != nil {
		v, ok := s.m[k]
		return v, ok
	}
	for i, x := range s.keys[:s.n] {
		if x == k {
			return s.vals[i], true
		}
	}
	var zero V
	return zero, false
}

func (s *smallMap[K, V]) put(k K, v V) {
	if s.m == nil {
		for i, x := range s.keys[:s.n] {
			if x == k {
				s.vals[i] = v
				return
			}
		}
		if s.n < len(s.keys) {
			s.keys[s.n], s.vals[s.n] = k, v
			s.n++
			return
		}
		s.m = make(map[K]V, 2*len(s.keys))
		for i, x := range s.keys {
			s.m[x] = s.vals[i]
		}
		*s = smallMap[K, V]{m: s.m}
	}
	s.m[k] = v
}

// len is the number of entries.
func (s *smallMap[K, V]) len() int {
	if s.m != nil {
		return len(s.m)
	}
	return s.n
}
