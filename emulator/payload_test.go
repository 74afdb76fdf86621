package emulator

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gitBlobSHA is the object id git gives content.
func gitBlobSHA(content []byte) string {
	id, _ := gitBlobSHAOf(payloadOf(content)) // in memory: no error
	return id
}

// TestBase64WriterAgreesWithDecodeString: written in two pieces split at
// every offset, the writer decodes what base64.StdEncoding decodes (CR
// and LF skipped) and refuses what it refuses.
func TestBase64WriterAgreesWithDecodeString(t *testing.T) {
	long := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("exfil\x00\xff"), 9000)) // past one internal buffer
	inputs := []string{
		"", "eA==", "eHk=", "eHl6", "QUtJQUZBS0VG\nQUtFRkFLRQo=", "QUtJ\r\nQUZB\r\n", "\neA==\n",
		long, wrap(long, 76),
		"eA", "eA=", "e===", "eA==eA==", "eA==\nx", "%%%not base64", "eA== ", " eA==", "eHl6\x00", "QUFB-_",
		long[:len(long)-1], long + "eA==",
	}
	for _, in := range inputs {
		want, wantErr := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(in))
		for split := 0; split <= len(in); split += max(1, len(in)/97) {
			var out bytes.Buffer
			b := newBase64Writer(&out, false)
			_, err := b.Write([]byte(in[:split]))
			require.NoError(t, err)
			_, err = b.Write([]byte(in[split:]))
			require.NoError(t, err)
			err = b.close()
			if wantErr != nil {
				assert.ErrorIs(t, err, errBadBase64, "%.40q split at %d", in, split)
				continue
			}
			require.NoError(t, err, "%.40q split at %d", in, split)
			assert.Equal(t, string(want), out.String(), "%.40q split at %d", in, split)
		}
	}
}

// TestBase64WriterTrim: with trim, spaces around the text are skipped as
// strings.TrimSpace skips them; inside it they are still an error.
func TestBase64WriterTrim(t *testing.T) {
	for in, ok := range map[string]bool{" eA==\t\n": true, "  eHl6  ": true, "eA ==": false, "eHl6 eA==": false} {
		var out bytes.Buffer
		b := newBase64Writer(&out, true)
		_, _ = b.Write([]byte(in))
		if ok {
			require.NoError(t, b.close(), in)
			want, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(in))
			assert.Equal(t, want, out.Bytes(), in)
		} else {
			assert.ErrorIs(t, b.close(), errBadBase64, in)
		}
	}
}

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}

// TestSpoolSpillsPastTheBudget: a request's files stay in memory up to
// spillAt bytes together; the rest go to files in the spool folder, which
// are gone once released. Size, sha256 and content are right either way.
func TestSpoolSpillsPastTheBudget(t *testing.T) {
	dir := t.TempDir()
	set := newSpools(spoolDir(dir))
	for _, size := range []int{0, 1, spillAt - 1, spillAt, spillAt + 1, 3*spillAt + 7} {
		content := bytes.Repeat([]byte{byte(size)}, size)
		sp := set.new(newBudget())
		for rest := content; len(rest) > 0; {
			n := min(len(rest), 4093)
			_, err := sp.Write(rest[:n])
			require.NoError(t, err)
			rest = rest[n:]
		}
		p := sp.finish()
		assert.Equal(t, NewFile("f", content), fileOf("f", p), "size %d", size)
		got, err := io.ReadAll(payloadReader(p))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(content, got), "size %d", size)
		assert.Equal(t, size > spillAt, sp.f != nil, "size %d on disk", size)
		require.NoError(t, set.release(sp))
		left, _ := os.ReadDir(spoolDir(dir))
		assert.Empty(t, left, "size %d: spool files after release", size)
	}

	// Two files of one request share the budget: the second spills.
	b := newBudget()
	first, second := set.new(b), set.new(b)
	_, _ = first.Write(make([]byte, spillAt-10))
	_, _ = second.Write(make([]byte, 11))
	assert.Nil(t, first.f)
	assert.NotNil(t, second.f)
	require.NoError(t, set.closeAll())
	_, err := os.Stat(spoolDir(dir))
	assert.True(t, os.IsNotExist(err), "the spool folder goes with the emulator")
}

// TestURLFieldsAgreesWithParseQuery: the streamed form reader finds the
// values url.ParseQuery finds (the first of each name) and refuses what
// it refuses.
func TestURLFieldsAgreesWithParseQuery(t *testing.T) {
	for _, body := range []string{
		"", "a=1", "a=1&b=2&a=3", "api_paste_code=line+one%0Aline%20two&api_option=paste", "a", "a=", "=v", "&&a=b&",
		"k%20ey=v%2Bw", "big=" + strings.Repeat("x%41", 5000), "a=%zz", "a=%4", "a=b;c=d", "a;b=c", "%=x",
	} {
		want, wantErr := url.ParseQuery(body)
		got := map[string]*bytes.Buffer{}
		err := urlFields(strings.NewReader(body), func(name string) (io.Writer, error) {
			if _, ok := got[name]; ok {
				return nil, nil
			}
			got[name] = &bytes.Buffer{}
			return got[name], nil
		})
		if wantErr != nil {
			assert.Error(t, err, body)
			continue
		}
		require.NoError(t, err, body)
		flat := map[string]string{}
		for k, v := range got {
			flat[k] = v.String()
		}
		wantFlat := map[string]string{}
		for k, v := range want {
			wantFlat[k] = v[0]
		}
		assert.Equal(t, wantFlat, flat, body)
	}
}

// FuzzBase64Writer: in two pieces split anywhere, the writer accepts and
// decodes exactly what base64.StdEncoding does once CR and LF are gone.
func FuzzBase64Writer(f *testing.F) {
	for _, s := range []string{"", "eA==", "eHl6\n", "QUtJ\r\nQUZB", "eA==eA==", "eA", "%%", "eA==\n\n"} {
		f.Add(s, uint(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, in string, at uint) {
		at = min(at, uint(len(in)))
		want, wantErr := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(in))
		var out bytes.Buffer
		b := newBase64Writer(&out, false)
		_, _ = b.Write([]byte(in[:at]))
		_, _ = b.Write([]byte(in[at:]))
		err := b.close()
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q split at %d: error %v, DecodeString's %v", in, at, err, wantErr)
		}
		if err == nil && !bytes.Equal(want, out.Bytes()) {
			t.Fatalf("%q split at %d: %x, want %x", in, at, out.Bytes(), want)
		}
	})
}
