package eql

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/t1567001/harness/validate/core"
)

// function returns EQL's function name; fold is the ~ suffix
// (case-insensitive variant).
func function(name string, fold bool, n int) (func([]core.Value) core.Value, error) {
	text := func(v core.Value) string {
		s, _ := v.Text()
		if fold {
			return strings.ToLower(s)
		}
		return s
	}
	need := func(lo, hi int) error {
		if n < lo || (hi >= 0 && n > hi) {
			return fmt.Errorf("%s() takes %d to %d arguments, got %d", name, lo, hi, n)
		}
		return nil
	}
	anyOf := func(pred func(a, b string) bool) func([]core.Value) core.Value {
		return func(a []core.Value) core.Value {
			if a[0].IsNull() {
				return core.BoolValue(false)
			}
			for _, s := range a[0].Values() {
				for _, p := range a[1:] {
					if pred(text(core.StringValue(s)), text(p)) {
						return core.BoolValue(true)
					}
				}
			}
			return core.BoolValue(false)
		}
	}
	switch strings.ToLower(name) {
	case "startswith":
		return anyOf(strings.HasPrefix), need(2, -1)
	case "endswith":
		return anyOf(strings.HasSuffix), need(2, -1)
	case "stringcontains":
		return anyOf(strings.Contains), need(2, 2)
	case "wildcard":
		return anyOf(func(s, p string) bool { return core.Glob(s, p, '*', '?', false) }), need(2, -1)
	case "length":
		return core.Length, need(1, 1)
	case "concat":
		return func(a []core.Value) core.Value {
			var b strings.Builder
			for _, v := range a {
				s, _ := v.Text()
				b.WriteString(s)
			}
			return core.StringValue(b.String())
		}, need(1, -1)
	case "cidrmatch":
		return func(a []core.Value) core.Value {
			ip, err := netip.ParseAddr(text(a[0]))
			if err != nil {
				return core.BoolValue(false)
			}
			for _, c := range a[1:] {
				if pfx, err := netip.ParsePrefix(text(c)); err == nil && pfx.Contains(ip) {
					return core.BoolValue(true)
				}
			}
			return core.BoolValue(false)
		}, need(2, -1)
	}
	return nil, fmt.Errorf("function %s() is not supported", name)
}
