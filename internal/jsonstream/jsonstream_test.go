package jsonstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// value is one value Walk reported: its kind and, for a scalar, its text
// (a string decoded).
type value struct {
	Kind Kind
	Text string
}

// flatten walks doc, keyed by path; dup says a path came twice (a
// duplicate key, which encoding/json resolves by keeping the last).
func flatten(r io.Reader) (map[string]value, bool, error) {
	out := map[string]value{}
	dup := false
	var bufs []*bytes.Buffer
	var keys []string
	err := Walk(r, func(path []string, kind Kind, literal []byte) (io.Writer, error) {
		key := strings.Join(path, "\x00")
		if _, ok := out[key]; ok {
			dup = true
		}
		out[key] = value{Kind: kind, Text: string(literal)}
		if kind == String {
			b := &bytes.Buffer{}
			bufs, keys = append(bufs, b), append(keys, key)
			return b, nil
		}
		return nil, nil
	})
	for i, b := range bufs {
		out[keys[i]] = value{Kind: String, Text: b.String()}
	}
	return out, dup, err
}

// flattenStd is the same map from encoding/json's reading of doc.
func flattenStd(t *testing.T, doc []byte) map[string]value {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	require.NoError(t, d.Decode(&v))
	out := map[string]value{}
	var walk func(path []string, v any)
	walk = func(path []string, v any) {
		key := strings.Join(path, "\x00")
		switch v := v.(type) {
		case map[string]any:
			out[key] = value{Kind: Object}
			for k, m := range v {
				walk(append(path[:len(path):len(path)], k), m)
			}
		case []any:
			out[key] = value{Kind: Array}
			for i, m := range v {
				walk(append(path[:len(path):len(path)], strconv.Itoa(i)), m)
			}
		case string:
			out[key] = value{Kind: String, Text: v}
		case json.Number:
			out[key] = value{Kind: Number, Text: string(v)}
		case bool:
			out[key] = value{Kind: Bool, Text: strconv.FormatBool(v)}
		case nil:
			out[key] = value{Kind: Null, Text: "null"}
		}
	}
	walk(nil, v)
	return out
}

var corpus = []string{
	`{}`, `[]`, `""`, `0`, `-0.5e+10`, `true`, `false`, `null`, ` {"a" : [ 1 , 2 ] } `,
	`{"message":"m","content":"QUFB\nQUFB","sha":null,"n":12.5e-3,"ok":true}`,
	`{"files":{"a.txt":{"content":"x\ty\"z\\\/\b\f\r\n"},"b":{"content":null}}}`,
	`{"s":"\u00e9\u20ac\ud83d\ude00 \ud800 \udc00x \ud800\u0041 \u0000"}`,
	"{\"raw\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 bad:\xff\xc3 end\"}",
	`[[[[["deep"]]]],{"":""},[{}],[[]]]`,
	`{"title":"t","files":[{"file_path":"s.txt","content":"y"},{"content":"z","file_path":"u"}]}`,
}

var invalid = []string{
	``, ` `, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a":1 "b":2}`, `{a:1}`,
	`"abc`, `"\x"`, `"\u12g4"`, "\"a\x01b\"", `01`, `1.`, `.5`, `-`, `1e`, `+1`, `tru`, `nul`, `truex`,
	`{} {}`, `{"a":"b"}x`, `[`, `"\`, `"\u12`, `NaN`,
}

func TestWalkAgreesWithEncodingJSON(t *testing.T) {
	for _, doc := range corpus {
		t.Run(doc, func(t *testing.T) {
			require.True(t, json.Valid([]byte(doc)))
			got, dup, err := flatten(strings.NewReader(doc))
			require.NoError(t, err)
			require.False(t, dup)
			assert.Equal(t, flattenStd(t, []byte(doc)), got)
		})
	}
	for _, doc := range invalid {
		t.Run("invalid "+doc, func(t *testing.T) {
			require.False(t, json.Valid([]byte(doc)))
			_, _, err := flatten(strings.NewReader(doc))
			var syntax *SyntaxError
			assert.ErrorAs(t, err, &syntax)
		})
	}
}

// TestWalkAtEveryBoundary: however the input arrives, byte by byte or
// split at any offset (inside an escape, a surrogate pair, a multi-byte
// rune), the values are the same.
func TestWalkAtEveryBoundary(t *testing.T) {
	for _, doc := range corpus {
		want := flattenStd(t, []byte(doc))
		got, _, err := flatten(iotest.OneByteReader(strings.NewReader(doc)))
		require.NoError(t, err)
		assert.Equal(t, want, got, "one byte at a time: %s", doc)
		for i := 1; i < len(doc); i++ {
			got, _, err := flatten(io.MultiReader(strings.NewReader(doc[:i]), strings.NewReader(doc[i:])))
			require.NoError(t, err)
			assert.Equal(t, want, got, "split at %d: %s", i, doc)
		}
	}
	for _, doc := range invalid {
		_, _, err := flatten(iotest.OneByteReader(strings.NewReader(doc)))
		var syntax *SyntaxError
		assert.ErrorAs(t, err, &syntax, doc)
	}
}

// TestWalkHoldsNoString: a string far larger than the reader's buffer
// reaches the writer in pieces, none larger than the buffer.
func TestWalkHoldsNoString(t *testing.T) {
	big := strings.Repeat("QUFB", 1<<20) // 4 MiB
	var total, largest int
	err := Walk(strings.NewReader(`{"content":"`+big+`"}`), func(path []string, kind Kind, _ []byte) (io.Writer, error) {
		if kind != String {
			return nil, nil
		}
		return writerFunc(func(p []byte) (int, error) {
			total += len(p)
			largest = max(largest, len(p))
			return len(p), nil
		}), nil
	})
	require.NoError(t, err)
	assert.Equal(t, len(big), total)
	assert.LessOrEqual(t, largest, bufferSize)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestWalkErrors(t *testing.T) {
	t.Run("writer", func(t *testing.T) {
		stop := errors.New("stop")
		err := Walk(strings.NewReader(`{"a":"xyz"}`), func([]string, Kind, []byte) (io.Writer, error) {
			return writerFunc(func([]byte) (int, error) { return 0, stop }), nil
		})
		assert.ErrorIs(t, err, stop)
	})
	t.Run("visitor", func(t *testing.T) {
		stop := errors.New("stop")
		err := Walk(strings.NewReader(`{"a":1}`), func(_ []string, k Kind, _ []byte) (io.Writer, error) {
			if k == Number {
				return nil, stop
			}
			return nil, nil
		})
		assert.ErrorIs(t, err, stop)
	})
	t.Run("reader", func(t *testing.T) {
		err := Walk(iotest.TimeoutReader(strings.NewReader(`{"a":"`+strings.Repeat("x", bufferSize*2)+`"}`)), func([]string, Kind, []byte) (io.Writer, error) { return nil, nil })
		assert.ErrorIs(t, err, iotest.ErrTimeout)
	})
	t.Run("depth", func(t *testing.T) {
		doc := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
		var syntax *SyntaxError
		assert.ErrorAs(t, Walk(strings.NewReader(doc), func([]string, Kind, []byte) (io.Writer, error) { return nil, nil }), &syntax)
		ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
		assert.NoError(t, Walk(strings.NewReader(ok), func([]string, Kind, []byte) (io.Writer, error) { return nil, nil }))
	})
	t.Run("key", func(t *testing.T) {
		doc := `{"` + strings.Repeat("k", MaxKey+1) + `":1}`
		var syntax *SyntaxError
		assert.ErrorAs(t, Walk(strings.NewReader(doc), func([]string, Kind, []byte) (io.Writer, error) { return nil, nil }), &syntax)
	})
}

func FuzzWalk(f *testing.F) {
	for _, doc := range append(corpus, invalid...) {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, dup, err := flatten(bytes.NewReader(doc))
		if !json.Valid(doc) {
			var syntax *SyntaxError
			if !errors.As(err, &syntax) {
				t.Fatalf("invalid %q read without a syntax error: %v", doc, err)
			}
			return
		}
		if err != nil {
			var syntax *SyntaxError
			if errors.As(err, &syntax) && strings.Contains(syntax.Msg, "deeper") || strings.Contains(err.Error(), "longer") {
				return // past a limit encoding/json does not have
			}
			t.Fatalf("valid %q: %v", doc, err)
		}
		if !dup {
			assert.Equal(t, flattenStd(t, doc), got)
		}
	})
}
