package replay

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
	"strings"
	"unsafe"

	"github.com/t1567001/harness/event"
)

// The flat-line fast path: most JSON telemetry is one flat object per line
// (this package's JSON lines, OTRF, Sysmon exports). flatLine reads such a
// line in one pass over its bytes, without building the tree: member names
// are interned once per file, values are copied once, straight into a
// chunk shared with the neighbouring records' (slab.go), and each member
// goes to the same flatBuilder the tree decoder uses as it is read.
// Anything else is left to the tree decoder, which oracle tests hold it
// to.

// flatName is an interned member name with what the scanner needs of it,
// so that one lookup serves a member.
type flatName struct {
	s string
	// word and mask hold a name shorter than 16 bytes and its closing
	// quote, to compare with a line's bytes two words at a time.
	word, mask [2]uint64
	role       flatRole
	list       bool // it holds a list (isListKey)
	next       followers
}

// flatValues are the string values a name had (d.flatVals[k] for
// d.flatNames[k], apart so that the names the scanner matches stay small).
// last is the one it had last: most values repeat (a file's user, image
// and host, its System values), and one that does is compared where it
// lies and shared, not copied. It is text of the slab's until it repeats,
// then a string of its own (lastOwned), so that the events sharing it
// hold no chunk. lastRaw says a line spelled it as it reads (no escape,
// valid UTF-8), so that it can be compared before it is decoded; spell is
// how a line spelled it otherwise (a Windows path's \\), when short, for
// the same.
type flatValues struct {
	last      string
	lastOwned bool
	lastRaw   bool
	spell     []byte
	// owned is last with its spelling once last is a string of its own;
	// seen are the values before it that were, latest first: a file's few
	// images or command lines come back in turn, and one that does is
	// shared again rather than copied and made a string of its own anew.
	owned seenValue
	seen  [3]seenValue
}

// seenValue is a value that is a string of its own and how a line spelled
// it (a string of its own too).
type seenValue struct{ v, spell string }

// maxSpell bounds the spellings a name remembers (its last value's, and
// with those it has seen their values), so that a decoder's names hold at
// most some 2 KiB each (8 MiB for maxNames that all change in turn, a few
// KiB for a real file).
const maxSpell = 256

// followers are the names seen following a name (or first in a line), as
// indexes in d.flatNames plus one (0: none), the latest first. A file's
// records mostly repeat a few shapes, which share a name order up to a few
// names where they part: a name's few followers cover every shape's.
type followers [4]int32

// maxNames bounds the interned member names of one file: past it, a
// record with a new name goes to the tree decoder.
const maxNames = 4096

// flatLine reads the flat object at b[i] ('{') into ev (a zero event)
// when it lies whole on its line: scalar members only, plus arrays of
// plain strings under the harness's list keys. For anything else (a nested
// object, another array, an escaped or invalid name, malformed JSON, a
// line not read whole yet, a value error) ok is false and nothing but
// scratch space has changed (ev is zero again): the tree decoder reads the
// record and reports what is wrong with it.
func (d *jsonDecoder) flatLine(b []byte, i int, eof bool, ev *event.Event) (end int, ok bool) {
	nl := bytes.IndexByte(b[i:], '\n')
	if nl < 0 {
		if !eof {
			return 0, false
		}
		nl = len(b)
	} else {
		nl += i
	}
	// Parsing stops at the line's end: a string or object running past it
	// is an error here, and the tree decoder's to judge. The values take
	// no more bytes than the line (escapes only shrink; what could grow
	// is checked).
	s := flatScan{d: d, b: b[:nl], i: i + 1, text: d.slab.room(nl - i)}
	d.lastSet = d.lastSet[:0]
	ev.Data = d.slab.fields(d.fieldsHint, nl-i)
	if !s.members(ev) || !s.rest() || s.f.finish(ev) != nil {
		s.forget()
		*ev = event.Event{}
		return 0, false
	}
	d.slab.commit(s.text)
	if n := len(ev.Data); n > d.fieldsHint {
		d.fieldsHint = min(n, slabFields/4)
	}
	ev.Data = d.slab.keep(ev.Data, len(s.text))
	return s.i, true
}

// flatScan is one line being read: the scanner's position in it, the text
// its values are copied to and what the flat builder keeps of them.
type flatScan struct {
	d    *jsonDecoder
	b    []byte
	i    int
	text []byte // from d.slab.room: appends never outgrow it
	f    flatBuilder
}

// rest requires nothing but space after the object on its line.
func (s *flatScan) rest() bool {
	for _, c := range s.b[s.i:] {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// forget drops the remembered values the line set, whose text is not
// handed out and will be written over.
func (s *flatScan) forget() {
	for _, k := range s.d.lastSet {
		lv := &s.d.flatVals[k]
		lv.last, lv.lastOwned, lv.lastRaw, lv.spell = "", false, false, lv.spell[:0]
	}
}

// ws skips the space compact JSON has none of (the line holds no '\n').
func (s *flatScan) ws() { s.i = skipSpace(s.b, s.i) }

// skipSpace returns the index of the first byte from i on that is not
// space; one test when there is none.
func skipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// expect returns the index of the byte c at i or after space, or -1:
// compact JSON has c at i, found with one test.
func expect(b []byte, i int, c byte) int {
	if i < len(b) && b[i] == c {
		return i
	}
	if i = skipSpace(b, i); i < len(b) && b[i] == c {
		return i
	}
	return -1
}

// str turns the text from off on into a string: it is handed out with
// the line, and never written again.
func (s *flatScan) str(off int) string {
	if off == len(s.text) {
		return ""
	}
	return unsafe.String(&s.text[off], len(s.text)-off)
}

// members reads the members after '{' up to and including the closing
// brace, each into e (through s.f) as it is read.
func (s *flatScan) members(e *event.Event) bool {
	d, b := s.d, s.b
	s.ws()
	if s.i < len(b) && b[s.i] == '}' {
		s.i++
		return true
	}
	prev := int32(0) // the previous name's index plus one; 0: none yet
	for i := s.i; ; {
		if i = expect(b, i, '"'); i < 0 {
			return false
		}
		// Names are plain ASCII in every shape this reads; others go to
		// the tree. Most often the name is one that followed prev before,
		// which holds no quote or backslash: the bytes that spell it and a
		// quote are the whole name, found without a scan.
		k0 := i + 1
		var n *flatName
		for _, c := range d.followers(prev) {
			if c == 0 {
				break
			}
			m := &d.flatNames[c-1]
			if len(m.s) < 16 && k0+16 <= len(b) {
				if binary.LittleEndian.Uint64(b[k0:])&m.mask[0] != m.word[0] || binary.LittleEndian.Uint64(b[k0+8:])&m.mask[1] != m.word[1] {
					continue
				}
			} else if !quotedAt(b, k0, m.s) {
				continue
			}
			n, prev = m, c
			break
		}
		if n == nil {
			k1 := plainEnd(b, k0)
			if k1 >= len(b) || b[k1] != '"' {
				return false
			}
			c := d.intern(b[k0:k1])
			if c < 0 {
				return false
			}
			d.follow(prev, c+1)
			n, prev = &d.flatNames[c], c+1
		}
		if i = expect(b, k0+len(n.s)+1, ':'); i < 0 {
			return false
		}
		s.i = skipSpace(b, i+1)
		if s.i >= len(b) || !s.member(e, n, prev-1) {
			return false
		}
		if i = expect(b, s.i, ','); i >= 0 {
			i++
			continue
		}
		if i = expect(b, s.i, '}'); i < 0 {
			return false
		}
		s.i = i + 1
		return true
	}
}

// member reads the value at s.i of the member named n, d.flatNames[k],
// into e.
func (s *flatScan) member(e *event.Event, n *flatName, k int32) bool {
	b := s.b
	if n.list {
		return s.list(e, n)
	}
	var v string
	switch c := b[s.i]; {
	case c == '"':
		if n.role == roleTimeCreated && s.timeAt(e) {
			return true
		}
		lv := &s.d.flatVals[k]
		// Bytes equal to the last value as spelled, then a quote, are
		// that value: a spelling ends with no escape begun, and what
		// follows it was a quote then too.
		if k := lv.spelledAt(b, s.i+1); k >= 0 {
			s.i += k + 2
			v = lv.repeated()
			break
		}
		if sv := lv.seenAt(b, s.i+1); sv != nil {
			s.i += len(sv.spell) + 2
			v = sv.v
			break
		}
		off, start := len(s.text), s.i+1
		raw, ok := s.string()
		if !ok {
			return false
		}
		// A value and a last value both spelled as they read were
		// compared above.
		if !(raw && lv.lastRaw) && string(s.text[off:]) == lv.last {
			s.text = s.text[:off]
			v = lv.repeated()
			break
		}
		v = s.str(off)
		if lv.lastOwned {
			copy(lv.seen[1:], lv.seen[:])
			lv.seen[0] = lv.owned
		}
		lv.last, lv.lastOwned, lv.lastRaw, lv.spell = v, false, raw, lv.spell[:0]
		if spell := b[start : s.i-1]; !raw && len(spell) <= maxSpell {
			lv.spell = append(lv.spell, spell...)
		}
		s.d.lastSet = append(s.d.lastSet, k)
	case c == 't' || c == 'f' || c == 'n':
		lit := "null"
		if c == 't' {
			lit = "true"
		} else if c == 'f' {
			lit = "false"
		}
		if !bytes.HasPrefix(b[s.i:], []byte(lit)) {
			return false
		}
		s.i += len(lit)
		if c != 'n' {
			v = lit
		}
	case c == '-' || c >= '0' && c <= '9':
		j := s.i + 1
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
			for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
				j++
			}
			if !validNumber(b[s.i:j]) {
				return false
			}
		} else if !validInt(b[s.i:j]) {
			return false
		} else if c != '-' && j-s.i <= 18 && intMember(e, n.role, b[s.i:j]) {
			s.i = j
			return true
		}
		off := len(s.text)
		if w := j - s.i; w <= 8 && s.i+8 <= len(b) && cap(s.text)-off >= 8 {
			// Most numbers: one word, whatever follows them.
			binary.LittleEndian.PutUint64(s.text[off:off+8], binary.LittleEndian.Uint64(b[s.i:]))
			s.text = s.text[:off+w]
		} else {
			s.text = append(s.text, b[s.i:j]...)
		}
		v = s.str(off)
		s.i = j
	default:
		return false // an object, an array, or not JSON
	}
	if n.role == roleField {
		// Most members: what memberAs does for a field, without the call.
		e.Data = append(e.Data, event.Field{Name: n.s, Value: v})
		return true
	}
	return s.f.memberAs(e, n.role, n.s, v) == nil
}

// timeAt reads at s.i ('"') a time stamp of the usual form, spelled as
// it reads, where it lies rather than copied out for memberAs, which
// reads it the same; false for any other.
func (s *flatScan) timeAt(e *event.Event) bool {
	b, i := s.b, s.i+1
	j := plainEnd(b, i)
	if j == i || j >= len(b) || b[j] != '"' {
		return false
	}
	t, ok := parseUTCFast(unsafe.String(&b[i], j-i))
	if !ok {
		return false
	}
	e.TimeCreated, s.f.haveTime = t, true
	s.i = j + 1
	return true
}

// string copies the string value at s.i ('"') to the text: plain ASCII
// runs and one-character escapes (a Windows path's \\) here, anything else
// by the tree decoder's string reader. raw says the value is spelled as it
// reads: no escape, valid UTF-8.
func (s *flatScan) string() (raw, ok bool) {
	// The text's room is the line's length, which the line's values never
	// fill (each lies in the line after at least its opening quote): runs
	// are copied eight bytes at a time, whatever follows their end.
	b, t := s.b, s.text[len(s.text):cap(s.text)]
	i, n := s.i+1, 0
	raw = true
	for {
	words:
		for ; i+8 <= len(b) && n+8 <= len(t); i, n = i+8, n+8 {
			x := binary.LittleEndian.Uint64(b[i:])
			binary.LittleEndian.PutUint64(t[n:], x)
			if m := plainStops(x); m != 0 {
				k := bits.TrailingZeros64(m) / 8
				i, n = i+k, n+k
				break words
			}
		}
		for i < len(b) && n < len(t) && b[i] != '"' && b[i] != '\\' && b[i] < 0x80 {
			t[n] = b[i]
			i, n = i+1, n+1
		}
		if i >= len(b) || n >= len(t) {
			return false, false
		}
		if b[i] == '"' {
			s.text = s.text[:len(s.text)+n]
			s.i = i + 1
			return raw, true
		}
		c := unescape(b, i)
		if c == 0 {
			return s.decode()
		}
		t[n] = c
		i, n = i+2, n+1
		raw = false
	}
}

// decode reads the string value at s.i with the tree decoder's string
// reader (a \\u escape, non-ASCII bytes) into the text.
func (s *flatScan) decode() (raw, ok bool) {
	d := s.d
	d.arena = d.arena[:0]
	p := jparser{d: d, b: s.b, i: s.i, eof: true}
	v, err := p.str()
	if err != nil {
		return false, false
	}
	var dec []byte
	switch {
	case v.arena:
		dec = d.arena[v.off:v.end]
	case v.dec:
		dec = unsafe.Slice(unsafe.StringData(v.s), len(v.s))
	default:
		dec = s.b[v.off:v.end]
	}
	// Invalid UTF-8 grows as it becomes U+FFFD: what would not fit in
	// the text's room is the tree decoder's.
	if len(dec) > cap(s.text)-len(s.text) {
		return false, false
	}
	s.text = append(s.text, dec...)
	s.i = p.i
	return !v.arena && !v.dec, true
}

// unescape decodes the one-character escape at b[j] ('\\'), or returns 0
// (a \\u escape, a bad one, or a non-ASCII byte at j).
func unescape(b []byte, j int) byte {
	if b[j] != '\\' || j+1 >= len(b) {
		return 0
	}
	switch c := b[j+1]; c {
	case '"', '\\', '/':
		return c
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return 0
}

// list reads into e null or an array of strings without escapes or non-ASCII
// bytes (the harness's observation ids and field names); what else
// encoding/json would make of an array is the tree decoder's to say.
func (s *flatScan) list(e *event.Event, n *flatName) bool {
	b := s.b
	if bytes.HasPrefix(b[s.i:], []byte("null")) {
		s.i += 4
		setList(e, n.s, nil)
		return true
	}
	if b[s.i] != '[' {
		return false
	}
	s.i++
	d := s.d
	d.items = d.items[:0]
	s.ws()
	if s.i < len(b) && b[s.i] == ']' {
		s.i++
		setList(e, n.s, []string{})
		return true
	}
	for {
		s.ws()
		if s.i >= len(b) || b[s.i] != '"' {
			return false
		}
		j := s.i + 1
		for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] < 0x80 {
			j++
		}
		if j >= len(b) || b[j] != '"' {
			return false
		}
		off := len(s.text)
		s.text = append(s.text, b[s.i+1:j]...)
		d.items = append(d.items, s.str(off))
		s.i = j + 1
		s.ws()
		if s.i >= len(b) {
			return false
		}
		if b[s.i] == ']' {
			s.i++
			setList(e, n.s, slices.Clip(append([]string(nil), d.items...)))
			return true
		}
		if b[s.i] != ',' {
			return false
		}
		s.i++
	}
}

// intMember sets the System integer role names to num, a JSON number's 1
// to 18 digits, read where it lies rather than as text copied out for
// memberAs (which reads such digits the same); false for another member.
func intMember(e *event.Event, role flatRole, num []byte) bool {
	p := intField(e, role)
	if p == nil && role != roleRecordID {
		return false
	}
	var v uint64
	for _, c := range num {
		v = v*10 + uint64(c-'0')
	}
	if p == nil {
		e.RecordID = v
	} else {
		*p = int(v)
	}
	return true
}

// spelledAt returns the length of the last value's spelling when b holds
// it and a quote from i on, else -1.
func (lv *flatValues) spelledAt(b []byte, i int) int {
	if lv.lastRaw {
		if quotedAt(b, i, lv.last) {
			return len(lv.last)
		}
		return -1
	}
	j := i + len(lv.spell)
	if len(lv.spell) > 0 && j < len(b) && b[j] == '"' && string(b[i:j]) == string(lv.spell) {
		return len(lv.spell)
	}
	return -1
}

// repeated returns the last value, which the member repeats, as a string
// of its own.
func (lv *flatValues) repeated() string {
	if lv.lastOwned {
		return lv.last
	}
	lv.owned = seenValue{} // none to look for once displaced
	switch {
	case len(lv.spell) > 0:
		// One allocation for the value and its spelling.
		both := lv.last + string(lv.spell)
		lv.last = both[:len(lv.last)]
		lv.owned = seenValue{lv.last, both[len(lv.last):]}
	case lv.lastRaw && len(lv.last) <= maxSpell:
		lv.last = strings.Clone(lv.last)
		lv.owned = seenValue{lv.last, lv.last}
	default:
		lv.last = strings.Clone(lv.last)
	}
	lv.lastOwned = true
	return lv.last
}

// seenAt returns the value seen before the last one that b spells from
// i on, then a quote, or nil.
func (lv *flatValues) seenAt(b []byte, i int) *seenValue {
	for k := range lv.seen {
		if sv := &lv.seen[k]; sv.v != "" && quotedAt(b, i, sv.spell) {
			return sv
		}
	}
	return nil
}

// plainEnd returns the index of the first '"', '\\' or non-ASCII byte of
// b from i, or len(b): eight bytes at a time, as a string's content is
// most of a line.
func plainEnd(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		if m := plainStops(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c >= 0x80 {
			return i
		}
	}
	return i
}

// plainStops marks the bytes of x (eight of a line, little-endian) that
// end a plain run: a byte's high bit marks a '"' or '\\' (its XOR is
// zero) or a non-ASCII byte. Only the lowest mark is exact.
func plainStops(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs := x^(ones*'"'), x^(ones*'\\')
	return ((q-ones)&^q | (bs-ones)&^bs | x) & highs
}

// quotedAt says whether b holds s and then a quote from i on.
func quotedAt(b []byte, i int, s string) bool {
	j := i + len(s)
	return j < len(b) && b[j] == '"' && string(b[i:j]) == s
}

// validInt says whether b, digits after an optional '-', is a JSON
// integer: no leading zero.
func validInt(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	return len(b) == 1 || len(b) > 1 && b[0] != '0'
}

// followers returns the followers of the name prev (its index plus one;
// 0: the line's start).
func (d *jsonDecoder) followers(prev int32) *followers {
	if prev == 0 {
		return &d.firstNames
	}
	return &d.flatNames[prev-1].next
}

// follow remembers the name n (index plus one) as the latest follower of
// prev.
func (d *jsonDecoder) follow(prev, n int32) {
	nx := d.followers(prev)
	copy(nx[1:], nx[:len(nx)-1])
	nx[0] = n
}

// intern returns the index in d.flatNames of the name spelled by k, from
// the file's table, or -1 when the table is full.
func (d *jsonDecoder) intern(k []byte) int32 {
	if n, ok := d.names[string(k)]; ok {
		return n
	}
	if len(d.flatNames) >= maxNames {
		return -1
	}
	if d.names == nil {
		d.names = make(map[string]int32)
	}
	n := int32(len(d.flatNames))
	s := string(k)
	r := roleOf(s)
	f := flatName{s: s, role: r, list: isListKey(s)}
	if len(s) < 16 {
		for i, c := range []byte(s + `"`) {
			f.word[i/8] |= uint64(c) << (i % 8 * 8)
			f.mask[i/8] |= 0xff << (i % 8 * 8)
		}
	}
	d.flatNames = append(d.flatNames, f)
	d.flatVals = append(d.flatVals, flatValues{})
	d.names[s] = n
	return n
}
