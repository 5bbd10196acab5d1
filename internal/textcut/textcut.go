package textcut

// Head returns s when it has at most limit bytes; else its first bytes, at
// most limit, ending before the start of a UTF-8 sequence, and true.
func Head(s string, limit int) (string, bool) {
	if len(s) <= limit {
		return s, false
	}
	n := max(limit, 0)
	for n > 0 && s[n]&0xC0 == 0x80 { // a continuation byte: not a start
		n--
	}
	return s[:n], true
}

// Cut returns Head(s, limit), followed by "..." when something was cut.
func Cut(s string, limit int) string {
	h, cut := Head(s, limit)
	if cut {
		return h + "..."
	}
	return h
}
