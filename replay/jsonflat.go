package replay

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strings"

	"github.com/t1567001/harness/event"
)

// The flat-line fast path: most JSON telemetry is one flat object per line
// (this package's JSON lines, OTRF, Sysmon exports). flatLine reads such a
// line in one pass over its bytes, without building the tree: member names
// are interned once per file, values are gathered into the record's arena
// and become one string (carved from a chunk shared with its neighbours,
// slab.go), and the members go to the same flatBuilder the tree decoder
// uses. Anything else is left to the tree decoder, which
// oracle tests hold it to.

// flatMember is one scanned member: its interned name and where its value
// lies in the arena (for a list, which items of d.items).
type flatMember struct {
	name     int32 // in d.nameList
	off, end int32
	null     bool
	list     bool
	repeated bool // the value is the previous record's (d.last)
}

// The roles whose members may become fields, and those whose value is
// kept from record to record (the System values that are one per file or
// per host, whose text then needs no copy), as sets of bits by role.
const (
	fieldRoles  = 1<<roleField | 1<<roleSystemInt | 1<<roleHostname | 1<<roleStamp | 1<<roleSource
	repeatRoles = 1<<roleProvider | 1<<roleProviderGUID | 1<<roleKeywords | 1<<roleChannel | 1<<roleComputer | 1<<roleUserID | 1<<roleHostname | 1<<roleSource
)

// mayBeField says whether a member of the role may become a field.
func mayBeField(r flatRole) bool { return fieldRoles>>r&1 != 0 }

// repeats says whether a role's value is kept from record to record.
func repeats(r flatRole) bool { return repeatRoles>>r&1 != 0 }

// maxNames bounds the interned member names of one file: past it, a
// record with a new name goes to the tree decoder.
const maxNames = 4096

// flatLine reads the flat object at b[i] ('{') when it lies whole on its
// line: scalar members only, plus arrays of plain strings under the
// harness's list keys. For anything else (a nested object, another array,
// an escaped or invalid name, malformed JSON, a line not read whole yet, a
// value error) ok is false and nothing but scratch space has changed: the
// tree decoder reads the record and reports what is wrong with it.
func (d *jsonDecoder) flatLine(b []byte, i int, eof bool) (ev event.Event, end int, ok bool) {
	nl := bytes.IndexByte(b[i:], '\n')
	if nl < 0 {
		if !eof {
			return ev, 0, false
		}
		nl = len(b)
	} else {
		nl += i
	}
	// Parsing stops at the line's end: a string or object running past it
	// is an error here, and the tree decoder's to judge.
	p := jparser{d: d, b: b[:nl], i: i + 1, eof: true}
	d.arena = d.arena[:0]
	d.members = d.members[:0]
	d.items = d.items[:0]
	d.nFields = 0
	p.ws()
	if p.i < nl && b[p.i] == '}' {
		p.i++
	} else if !d.flatMembers(&p) {
		return ev, 0, false
	}
	for j := p.i; j < nl; j++ {
		if c := b[j]; c != ' ' && c != '\t' && c != '\r' {
			return ev, 0, false
		}
	}
	s := d.slab.str(d.arena)
	var f flatBuilder
	// Room for the members that may become fields, not the System ones.
	if d.nFields > 0 {
		f.e.Data = d.slab.fields(d.nFields, len(s))
	}
	for _, m := range d.members {
		name := d.nameList[m.name]
		switch {
		case m.list && m.null:
			f.list(name, nil)
		case m.list:
			vs := make([]string, m.end-m.off)
			for k, it := range d.items[m.off:m.end] {
				vs[k] = s[it.off:it.end]
			}
			f.list(name, vs)
		case d.roles[m.name] == roleField:
			// Most members: what memberAs does for a field, without the call.
			f.e.Data = append(f.e.Data, event.Field{Name: name, Value: s[m.off:m.end]})
		default:
			role := d.roles[m.name]
			var v string
			if m.repeated {
				v = d.last[role]
			} else if v = s[m.off:m.end]; repeats(role) {
				d.last[role] = v
				d.lastQuote[role] = strings.IndexByte(v, '"') >= 0 || strings.IndexByte(v, '\\') >= 0
			}
			if err := f.memberAs(role, name, v); err != nil {
				return ev, 0, false
			}
		}
	}
	ev, err := f.finish()
	if err != nil {
		return ev, 0, false
	}
	ev.Data = d.slab.keep(ev.Data)
	return ev, p.i, true
}

// flatMembers scans members up to and including the closing brace.
func (d *jsonDecoder) flatMembers(p *jparser) bool {
	b := p.b
	for {
		p.ws()
		if p.i >= len(b) || b[p.i] != '"' {
			return false
		}
		// Names are plain ASCII in every shape this reads; others go to
		// the tree.
		k0 := p.i + 1
		prev := int32(-1)
		if len(d.members) > 0 {
			prev = d.members[len(d.members)-1].name
		}
		// Most often the name is the one that followed prev last time,
		// which holds no quote or backslash: the bytes that spell it and
		// a quote are the whole name, found without a scan.
		name := d.guess(prev)
		if name >= 0 && quotedAt(b, k0, d.nameList[name]) {
			p.i = k0 + len(d.nameList[name]) + 1
		} else {
			k1 := plainEnd(b, k0)
			if k1 >= len(b) || b[k1] != '"' {
				return false
			}
			p.i = k1 + 1
			if name = d.intern(prev, b[k0:k1]); name < 0 {
				return false
			}
		}
		p.ws()
		if p.i >= len(b) || b[p.i] != ':' {
			return false
		}
		p.i++
		p.ws()
		if p.i >= len(b) {
			return false
		}
		m := flatMember{name: name}
		if mayBeField(d.roles[name]) {
			d.nFields++
		}
		c := b[p.i]
		switch {
		case d.lists[name]:
			m.list = true
			if !d.flatList(p, &m) {
				return false
			}
		case c == '"':
			// Most System values repeat the previous record's: one
			// without escapes is compared where it lies, not copied.
			// Bytes equal to a previous value with no quote or backslash
			// in it, then a quote, are that value.
			if role := d.roles[name]; repeats(role) && !d.lastQuote[role] {
				if quotedAt(b, p.i+1, d.last[role]) {
					p.i += len(d.last[role]) + 2
					m.repeated = true
					break
				}
			}
			if !d.flatString(p, &m) {
				return false
			}
			if role := d.roles[name]; repeats(role) && string(d.arena[m.off:m.end]) == d.last[role] {
				d.arena = d.arena[:m.off]
				m.repeated = true
			}
		case c == 't' || c == 'f' || c == 'n':
			lit := "null"
			if c == 't' {
				lit = "true"
			} else if c == 'f' {
				lit = "false"
			}
			if !bytes.HasPrefix(b[p.i:], []byte(lit)) {
				return false
			}
			p.i += len(lit)
			m.off = int32(len(d.arena))
			if c != 'n' {
				d.arena = append(d.arena, lit...)
			}
			m.end = int32(len(d.arena))
		case c == '-' || c >= '0' && c <= '9':
			j := p.i + 1
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			if j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
				for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
					j++
				}
				if !validNumber(b[p.i:j]) {
					return false
				}
			} else if !validInt(b[p.i:j]) {
				return false
			}
			m.off = int32(len(d.arena))
			d.arena = append(d.arena, b[p.i:j]...)
			m.end = int32(len(d.arena))
			p.i = j
		default:
			return false // an object, an array, or not JSON
		}
		d.members = append(d.members, m)
		p.ws()
		if p.i >= len(b) {
			return false
		}
		switch b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

// flatString reads a string value into the arena: plain ASCII runs and
// one-character escapes (a Windows path's \\) here, anything else by the
// tree decoder's string reader.
func (d *jsonDecoder) flatString(p *jparser, m *flatMember) bool {
	b := p.b
	a0 := len(d.arena)
	for i := p.i + 1; ; {
		j := plainEnd(b, i)
		if j >= len(b) {
			return false
		}
		d.arena = append(d.arena, b[i:j]...)
		if b[j] == '"' {
			p.i = j + 1
			m.off, m.end = int32(a0), int32(len(d.arena))
			return true
		}
		if c := unescape(b, j); c != 0 {
			d.arena = append(d.arena, c)
			i = j + 2
			continue
		}
		break
	}
	d.arena = d.arena[:a0]
	v, err := p.str()
	if err != nil {
		return false
	}
	switch {
	case v.arena: // decoded, at the arena's end
		m.off, m.end = int32(v.off), int32(v.end)
		return true
	case v.dec:
		d.arena = append(d.arena, v.s...)
	default:
		d.arena = append(d.arena, b[v.off:v.end]...)
	}
	m.off, m.end = int32(a0), int32(len(d.arena))
	return true
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

// flatList reads null or an array of strings without escapes or non-ASCII
// bytes (the harness's observation ids and field names); what else
// encoding/json would make of an array is the tree decoder's to say.
func (d *jsonDecoder) flatList(p *jparser, m *flatMember) bool {
	b := p.b
	if bytes.HasPrefix(b[p.i:], []byte("null")) {
		p.i += 4
		m.null = true
		return true
	}
	if b[p.i] != '[' {
		return false
	}
	p.i++
	m.off = int32(len(d.items))
	p.ws()
	if p.i < len(b) && b[p.i] == ']' {
		p.i++
		m.end = m.off
		return true
	}
	for {
		p.ws()
		if p.i >= len(b) || b[p.i] != '"' {
			return false
		}
		j := p.i + 1
		for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] < 0x80 {
			j++
		}
		if j >= len(b) || b[j] != '"' {
			return false
		}
		a0 := len(d.arena)
		d.arena = append(d.arena, b[p.i+1:j]...)
		d.items = append(d.items, xspan{off: int32(a0), end: int32(len(d.arena))})
		p.i = j + 1
		p.ws()
		if p.i >= len(b) {
			return false
		}
		if b[p.i] == ']' {
			p.i++
			m.end = int32(len(d.items))
			return true
		}
		if b[p.i] != ',' {
			return false
		}
		p.i++
	}
}

// xspan is a range of the arena.
type xspan struct{ off, end int32 }

// plainEnd returns the index of the first '"', '\\' or non-ASCII byte of
// b from i, or len(b): eight bytes at a time, as a string's content is
// most of a line.
func plainEnd(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, bs := x^(ones*'"'), x^(ones*'\\')
		// A byte's high bit marks a '"' or '\\' (its XOR is zero) or a
		// non-ASCII byte; the lowest mark is exact.
		if m := ((q-ones)&^q | (bs-ones)&^bs | x) & highs; m != 0 {
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

// guess is the name that followed the name prev (-1: the first member)
// last time, or -1: the records of a file mostly repeat their members'
// order.
func (d *jsonDecoder) guess(prev int32) int32 {
	if prev >= 0 {
		return d.nextName[prev]
	}
	return d.firstName
}

// intern returns the index in d.nameList of the name spelled by k, which
// follows the name prev, from the file's table, and remembers it as
// prev's follower.
func (d *jsonDecoder) intern(prev int32, k []byte) int32 {
	n, ok := d.names[string(k)]
	if !ok {
		if len(d.nameList) >= maxNames {
			return -1
		}
		if d.names == nil {
			d.names = make(map[string]int32)
		}
		n = int32(len(d.nameList))
		s := string(k)
		d.nameList = append(d.nameList, s)
		d.roles = append(d.roles, roleOf(s))
		d.lists = append(d.lists, isListKey(s))
		d.nextName = append(d.nextName, -1)
		d.names[s] = n
	}
	if prev >= 0 {
		d.nextName[prev] = n
	} else {
		d.firstName = n
	}
	return n
}
