package replay

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/t1567001/harness/event"
)

// xevent collects one event's values as ranges until its bytes become one
// string.
type xevent struct {
	ev                                  event.Event
	provName, provGUID, keywords, chann xtext
	computer, userID, sysTime           xtext
	hasTime                             bool
	firstErr                            error
}

func (x *xevent) fail(at int, err error) {
	if x.firstErr == nil {
		x.firstErr = &valueError{at: at, err: err}
	}
}

// event reads an <Event> element whose start tag t began at start.
func (p *xparser) event(t *xtok, start int) (event.Event, error) {
	var x xevent
	data := p.d.data[:0]
	defer func() { p.d.data = data[:0] }()
	if t.kind == tokStart {
		var c xtok
	children:
		for {
			if p.i >= len(p.b) {
				return x.ev, errShort
			}
			if err := p.token(&c); err != nil {
				return x.ev, err
			}
			switch c.kind {
			case tokStart, tokEmpty:
				var err error
				switch string(localName(c.name)) {
				case "System":
					err = p.system(&c, &x)
				case "EventData":
					data, err = p.eventData(&c, data)
				case "UserData":
					data, err = p.userData(&c, data)
				default:
					err = p.endOf(&c)
				}
				if err != nil {
					return x.ev, err
				}
			case tokEnd:
				if !bytes.Equal(c.name, t.name) {
					return x.ev, synErr(c.off, "element <%s> closed by </%s>", t.name, c.name)
				}
				break children
			}
		}
	}
	if x.firstErr != nil {
		return x.ev, x.firstErr
	}
	// One string for the whole event; unchanged values are its substrings.
	s := string(p.b[start:p.i])
	str := func(v xtext) string {
		if v.dec {
			return v.s
		}
		if v.end <= v.off {
			return "" // unset, or empty
		}
		return s[v.off-start : v.end-start]
	}
	ev := &x.ev
	ev.Provider = event.Provider{Name: str(x.provName), GUID: str(x.provGUID)}
	ev.Keywords, ev.Channel, ev.Computer, ev.UserID = str(x.keywords), str(x.chann), str(x.computer), str(x.userID)
	if x.hasTime {
		tm, err := parseSystemTime(str(x.sysTime))
		if err != nil {
			return x.ev, &valueError{at: p.i, err: err}
		}
		ev.TimeCreated = tm
	}
	if len(data) > 0 {
		ev.Data = make([]event.Field, len(data))
		for i, d := range data {
			ev.Data[i] = event.Field{Name: str(d.name), Value: str(d.val)}
		}
	}
	return x.ev, nil
}

func (p *xparser) system(t *xtok, x *xevent) error {
	return p.children(t, func(c *xtok) error { return p.systemChild(c, x) })
}

func (p *xparser) systemChild(c *xtok, x *xevent) error {
	ev := &x.ev
	local := localName(c.name)
	switch string(local) {
	case "Provider":
		x.provName, _ = c.attr("Name")
		x.provGUID, _ = c.attr("Guid")
	case "TimeCreated":
		x.sysTime, x.hasTime = c.attr("SystemTime")
	case "Execution":
		pid, _ := c.attr("ProcessID")
		tid, _ := c.attr("ThreadID")
		var err error
		if ev.ExecutionPID, err = p.atoi("Execution/@ProcessID", pid); err != nil {
			x.fail(c.end, err)
		} else if ev.ExecutionTID, err = p.atoi("Execution/@ThreadID", tid); err != nil {
			x.fail(c.end, err)
		}
	case "Security":
		x.userID, _ = c.attr("UserID")
	case "EventID", "Version", "Level", "Task", "Opcode", "Keywords",
		"EventRecordID", "Channel", "Computer":
		v, err := p.textOf(c)
		if err != nil {
			return err
		}
		var n *int
		switch string(local) {
		case "Keywords":
			x.keywords = v
		case "Channel":
			x.chann = v
		case "Computer":
			x.computer = v
		case "EventID":
			n = &ev.EventID
		case "Version":
			n = &ev.Version
		case "Level":
			n = &ev.Level
		case "Task":
			n = &ev.Task
		case "Opcode":
			n = &ev.Opcode
		case "EventRecordID":
			b := bytes.TrimSpace(p.textBytes(v))
			if len(b) > 0 {
				u, err := strconv.ParseUint(string(b), 10, 64)
				if err != nil {
					x.fail(p.i, fmt.Errorf("EventRecordID: invalid number %q", b))
				}
				ev.RecordID = u
			}
		}
		if n != nil {
			var err error
			if *n, err = p.atoi(string(local), v); err != nil {
				x.fail(p.i, err)
			}
		}
		return nil
	}
	return p.endOf(c)
}

// atoi parses a decimal System value; empty means 0 (python-evtx writes
// empty elements for absent values).
func (p *xparser) atoi(name string, v xtext) (int, error) {
	b := bytes.TrimSpace(p.textBytes(v))
	if len(b) == 0 {
		return 0, nil
	}
	n := 0
	ok := len(b) <= 18
	for i, c := range b {
		if c >= '0' && c <= '9' {
			n = n*10 + int(c-'0')
			continue
		}
		if i == 0 && (c == '-' || c == '+') && len(b) > 1 {
			continue
		}
		ok = false
		break
	}
	if ok {
		if b[0] == '-' {
			n = -n
		}
		return n, nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return 0, fmt.Errorf("%s: invalid number %q", name, b)
	}
	return n, nil
}

// eventData reads <EventData>: each <Data Name='X'> is a field; an unnamed
// <Data> (classic providers) is named Data, and <Binary> is a field too.
func (p *xparser) eventData(t *xtok, data []dataRef) ([]dataRef, error) {
	if t.kind == tokEmpty {
		return data, nil
	}
	var c xtok
	for {
		if p.i >= len(p.b) {
			return data, errShort
		}
		if err := p.token(&c); err != nil {
			return data, err
		}
		switch c.kind {
		case tokEnd:
			if !bytes.Equal(c.name, t.name) {
				return data, synErr(c.off, "element <%s> closed by </%s>", t.name, c.name)
			}
			return data, nil
		case tokStart, tokEmpty:
			local := localName(c.name)
			switch string(local) {
			case "Data", "Binary":
				name, ok := c.attr("Name")
				if !ok {
					name = xtext{s: string(local), dec: true}
				}
				v, err := p.textOf(&c)
				if err != nil {
					return data, err
				}
				data = append(data, dataRef{name: name, val: v})
			default:
				if err := p.endOf(&c); err != nil {
					return data, err
				}
			}
		}
	}
}

// userData flattens <UserData> (events whose provider writes its own
// element, such as 1102 log cleared): every element with no child element
// is a field named by its element name.
func (p *xparser) userData(t *xtok, data []dataRef) ([]dataRef, error) {
	if t.kind == tokEmpty {
		return data, nil
	}
	var c xtok
	// pending is the element whose content is being read, until a child
	// element shows it is not a leaf.
	type open struct {
		tok  xtok
		text xtext
		n    int
		leaf bool
	}
	stack := []open{{tok: *t}}
	for {
		if p.i >= len(p.b) {
			return data, errShort
		}
		if err := p.token(&c); err != nil {
			return data, err
		}
		top := &stack[len(stack)-1]
		switch c.kind {
		case tokText, tokCDATA:
			if top.n == 0 {
				top.text = c.text
			} else {
				top.text = xtext{s: string(p.textBytes(top.text)) + string(p.textBytes(c.text)), dec: true}
			}
			top.n++
		case tokEmpty:
			top.leaf = false
			data = append(data, dataRef{name: xtext{s: string(localName(c.name)), dec: true}, val: xtext{off: c.end, end: c.end}})
		case tokStart:
			top.leaf = false
			tok := c
			tok.attrs = nil
			stack = append(stack, open{tok: tok, leaf: true})
		case tokEnd:
			if !bytes.Equal(c.name, top.tok.name) {
				return data, synErr(c.off, "element <%s> closed by </%s>", top.tok.name, c.name)
			}
			if len(stack) == 1 {
				return data, nil
			}
			if top.leaf {
				v := top.text
				if top.n == 0 {
					v = xtext{off: c.off, end: c.off}
				}
				data = append(data, dataRef{name: xtext{s: string(localName(top.tok.name)), dec: true}, val: v})
			}
			stack = stack[:len(stack)-1]
		}
	}
}
