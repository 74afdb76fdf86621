package spl

// Keyed is Fields some of whose fields have one value, or none, for every
// event of a key: for Windows events the channel and the event code decide
// index, sourcetype, source and EventCode. A search is specialised once per
// key with those terms decided, so that an event is tested on the rest
// only: most terms of a detection pick the log and the event code, and
// most events fail there.
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

// specCache holds a search specialised per key, by code: a stream
// interleaves a few codes of a few channels. A clash replaces the entry,
// so the cache stays small whatever the keys.
type specCache [32]struct {
	key  Key
	node *sNode
}

// specialised returns command i's search n specialised for r's key.
func (st *runState) specialised(i int, n *sNode, r *record, k Keyed) *sNode {
	c := st.specs[i]
	if c == nil {
		c = new(specCache)
		st.specs[i] = c
	}
	key := k.Key()
	e := &c[uint(key.Code)%uint(len(c))]
	if e.node == nil || e.key != key {
		e.key, e.node = key, n.specialise(r, k)
	}
	return e.node
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
