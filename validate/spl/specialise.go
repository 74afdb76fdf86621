package spl

import "slices"

// Keyed is Fields some of whose fields have one value, or none, for every
// event of a key: for Windows events the channel and the event code decide
// index, sourcetype, source and EventCode. A stream specialises its search,
// where and eval commands once per key, with what depends on those fields
// decided, so that an event is tested on the rest only: most terms of a
// detection pick the log and the event code, and most events fail there.
type Keyed interface {
	Fields
	// Key identifies the event's class.
	Key() Key
	// Constant says whether the named field's value and presence are the
	// same for every event of one Key.
	Constant(name string) bool
}

// Key is a class of events that agree on their Constant fields.
type Key struct {
	Class string // e.g. the channel
	Code  int    // e.g. the event code
}

// keySpec is a stream's commands specialised for one key, by command
// index, each made when the first event of the key reaches it.
type keySpec struct {
	key    Key
	search []*sNode
	where  []tester
	eval   [][]assignment
	// consts are the fields the evals specialised so far assign a
	// literal for the key (the seed's Signal for Sysmon 3): a later
	// command reads them as literals. Commands are specialised in
	// pipeline order, the first event of the key to reach one having
	// passed the ones before, so consts are those before the command
	// being specialised.
	consts []binding
}

// assigned records what the specialised e assigns to field for the key.
func (ks *keySpec) assigned(field string, e expr) {
	i := slices.IndexFunc(ks.consts, func(b binding) bool { return b.name == field })
	lit, ok := e.(*litExpr)
	switch {
	case ok && i >= 0:
		ks.consts[i].val = lit.v
	case ok:
		ks.consts = append(ks.consts, binding{name: field, val: lit.v})
	case i >= 0:
		ks.consts = slices.Delete(ks.consts, i, i+1)
	}
}

// specCache holds a stream's keySpecs: a direct-mapped table in front of
// a map, so that the few keys a stream interleaves are found by one
// compare, and keys that share a slot (Sysmon 1 and Security 4705) do not
// make each other's specialisations again. The map is bounded: past
// maxKeys, it starts again.
type specCache struct {
	cmds int
	keys [32]*keySpec
	all  map[Key]*keySpec
}

const maxKeys = 1024

// lookup returns the keySpec of k's key: one lookup per event, whatever
// the number of commands specialised.
func (c *specCache) lookup(k Keyed) *keySpec {
	key := k.Key()
	e := &c.keys[(uint(key.Code)+31*uint(len(key.Class)))%uint(len(c.keys))]
	if *e != nil && (*e).key == key {
		return *e
	}
	ks := c.all[key]
	if ks == nil {
		if c.all == nil || len(c.all) >= maxKeys {
			c.all = make(map[Key]*keySpec)
		}
		ks = &keySpec{key: key, search: make([]*sNode, c.cmds), where: make([]tester, c.cmds), eval: make([][]assignment, c.cmds)}
		c.all[key] = ks
	}
	*e = ks
	return ks
}

var (
	trueNode  = &sNode{op: sTrue}
	falseNode = &sNode{op: sFalse}
)

func constNode(b bool) *sNode {
	if b {
		return trueNode
	}
	return falseNode
}

// specialise returns n with every term on a field constant for r's key
// decided by r, and the ANDs, ORs and NOTs that decides folded: what n
// matches on any event of the key, it matches on the same event. Nodes
// left as they were are shared with n.
func (n *sNode) specialise(r *record, k Keyed) *sNode {
	switch n.op {
	case sAnd, sOr:
		var kids []*sNode
		for _, c := range n.kids {
			s := c.specialise(r, k)
			switch s.op {
			case sTrue:
				if n.op == sOr {
					return trueNode
				}
				continue
			case sFalse:
				if n.op == sAnd {
					return falseNode
				}
				continue
			}
			kids = append(kids, s)
		}
		switch len(kids) {
		case 0: // every term was true (AND) or false (OR)
			return constNode(n.op == sAnd)
		case 1:
			return kids[0]
		}
		c := *n
		c.kids = kids
		return &c
	case sNot:
		switch s := n.kids[0].specialise(r, k); s.op {
		case sTrue, sFalse:
			return constNode(s.op == sFalse)
		default:
			c := *n
			c.kids = []*sNode{s}
			return &c
		}
	case sCmp, sIn:
		if k.Constant(n.field) {
			return constNode(n.match(r))
		}
	}
	return n
}

// specEnv is what an expression is specialised with: the first event of a
// key as a record, the fields an earlier eval may have assigned, which are
// not the event's however constant the event's are, and the key's
// specialisations so far (nil: none), whose literal assignments hold.
type specEnv struct {
	r        *record
	k        Keyed
	assigned []string
	ks       *keySpec
}

// literal returns the value name has for every event of the key, if it
// has one.
func (sp *specEnv) literal(slot int, name string) (Value, bool) {
	if sp.ks != nil {
		for _, b := range sp.ks.consts {
			if b.name == name {
				return b.val, true
			}
		}
	}
	if sp.k.Constant(name) && !slices.Contains(sp.assigned, name) {
		return sp.r.getSlot(slot, name), true
	}
	return Value{}, false
}

// specialiser is an expression that can be specialised for a key; the
// others are kept as they are, which is always right.
type specialiser interface {
	specialise(sp *specEnv) expr
}

func specExpr(e expr, sp *specEnv) expr {
	if s, ok := e.(specialiser); ok {
		return s.specialise(sp)
	}
	return e
}

func specTest(t tester, sp *specEnv) tester {
	if e, ok := t.(expr); ok {
		return asTester(specExpr(e, sp))
	}
	if tr, ok := t.(truthyExpr); ok {
		return tr.specialise(sp)
	}
	return t
}

// constTest is a condition decided for a key.
type constTest bool

func (c constTest) eval(*record) Value       { return BoolValue(bool(c)) }
func (c constTest) test(*record) bool        { return bool(c) }
func (c constTest) specialise(*specEnv) expr { return c }

// decided says whether t is decided for a key, and how.
func decided(t tester) (value, ok bool) {
	switch t := t.(type) {
	case constTest:
		return bool(t), true
	case truthyExpr:
		if l, isLit := t.x.(*litExpr); isLit {
			return truthy(l.v), true
		}
	}
	return false, false
}

func (e *litExpr) specialise(*specEnv) expr { return e }

func (e *fieldExpr) specialise(sp *specEnv) expr {
	if v, ok := sp.literal(e.slot, e.name); ok {
		return &litExpr{v: v}
	}
	return e
}

func (e truthyExpr) specialise(sp *specEnv) tester {
	x := specExpr(e.x, sp)
	if l, ok := x.(*litExpr); ok {
		return constTest(truthy(l.v))
	}
	return truthyExpr{x}
}

func (e *cmpExpr) specialise(sp *specEnv) expr {
	l, r := specExpr(e.l, sp), specExpr(e.r, sp)
	if l == e.l && r == e.r {
		return e
	}
	c := newCmp(e.op, l, r)
	if lit, ok := c.(*litExpr); ok {
		return constTest(truthy(lit.v))
	}
	return c
}

func (e *logicExpr) specialise(sp *specEnv) expr {
	l, r := specTest(e.l, sp), specTest(e.r, sp)
	lv, lok := decided(l)
	rv, rok := decided(r)
	switch {
	case lok && rok:
		return constTest((&logicExpr{op: e.op, l: l, r: r}).test(nil))
	case e.op == "AND" && (lok && !lv || rok && !rv):
		return constTest(false) // conditions have no side effects
	case e.op == "OR" && (lok && lv || rok && rv):
		return constTest(true)
	case e.op != "XOR" && lok: // true AND x, false OR x
		return asExpr(r)
	case e.op != "XOR" && rok:
		return asExpr(l)
	}
	return &logicExpr{op: e.op, l: l, r: r}
}

// asExpr returns a condition as an expression of its truth.
func asExpr(t tester) expr {
	if e, ok := t.(expr); ok {
		return e
	}
	return &testExpr{t}
}

// testExpr is a condition as an expression.
type testExpr struct{ t tester }

func (e *testExpr) eval(r *record) Value { return BoolValue(e.t.test(r)) }
func (e *testExpr) test(r *record) bool  { return e.t.test(r) }

func (e *notExpr) specialise(sp *specEnv) expr {
	x := specTest(e.x, sp)
	if v, ok := decided(x); ok {
		return constTest(!v)
	}
	return &notExpr{x: x}
}

func (e *matchExpr) specialise(sp *specEnv) expr {
	x := specExpr(e.x, sp)
	c := &matchExpr{x: x, re: e.re, lit: e.lit}
	if _, ok := x.(*litExpr); ok {
		return constTest(c.test(nil))
	}
	c.last = new(lastMatch) // the copy is this stream's
	return c
}

// specialise drops the branches decided false and ends the case at the
// first decided true, which becomes its else.
func (e *caseExpr) specialise(sp *specEnv) expr {
	c := &caseExpr{}
	ended := false
	for i, cond := range e.conds {
		t := specTest(cond, sp)
		v, ok := decided(t)
		if ok && !v {
			continue
		}
		val := specExpr(e.vals[i], sp)
		if ok {
			c.els, ended = val, true
			break
		}
		c.conds = append(c.conds, t)
		c.vals = append(c.vals, val)
	}
	if !ended && e.els != nil {
		c.els = specExpr(e.els, sp)
	}
	if len(c.conds) == 0 {
		if c.els == nil {
			return &litExpr{} // null, as a case with no true condition
		}
		return c.els
	}
	return c
}
