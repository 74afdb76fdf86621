package emulator

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fake keys of the tests; the mock cannot check signatures anyway.
const (
	fakeAccessKey = "AKIAT1567HARNESSFAKE"
	fakeSecretKey = "t1567harnessFAKEsecretNOTAREALKEY0000000"
)

// s3Do sends one request to the emulator's handler, signed (in form) as
// SigV4 when signed is set, with extra headers.
func s3Do(t *testing.T, e *Emulator, method, url string, body []byte, signed bool, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, url, bytes.NewReader(body))
	if signed {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+fakeAccessKey+"/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=00")
		req.Header.Set("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, req)
	return rec
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// awsChunked frames data as a SigV4 streaming upload in chunks of size n,
// with trailer lines after the last chunk.
func awsChunked(data []byte, n int, trailer ...string) []byte {
	var b bytes.Buffer
	for len(data) > 0 {
		c := data[:min(n, len(data))]
		data = data[len(c):]
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n%s\r\n", len(c), strings.Repeat("ab", 32), c)
	}
	fmt.Fprintf(&b, "0;chunk-signature=%s\r\n", strings.Repeat("cd", 32))
	for _, l := range trailer {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func TestS3ChecksWhatItStores(t *testing.T) {
	e := newTestEmulator(t, Config{})
	data := []byte("AKIAFAKE,not-a-real-secret\nacct,42\n")
	md5sum := md5.Sum(data)
	crc := crc32.NewIEEE()
	crc.Write(data)
	crcB64 := base64.StdEncoding.EncodeToString(crc.Sum(nil))
	decoded := fmt.Sprint(len(data))

	require.Equal(t, 200, s3Do(t, e, "PUT", "https://loot.s3.amazonaws.com/", nil, true).Code)
	cases := []struct {
		name, url string
		body      []byte
		signed    bool
		headers   []string
		status    int
		code      string
	}{
		{"unsigned is refused", "https://loot.s3.amazonaws.com/a.csv", data, false, nil, 403, "AccessDenied"},
		{"unsigned payload", "https://loot.s3.amazonaws.com/a.csv", data, true, nil, 200, ""},
		{"path style", "https://s3.us-east-1.amazonaws.com/loot/b.csv", data, true, nil, 200, ""},
		{"signed payload hash", "https://loot.s3.amazonaws.com/c.csv", data, true, []string{"x-amz-content-sha256", hexSHA(data)}, 200, ""},
		{"payload hash mismatch", "https://loot.s3.amazonaws.com/d.csv", data, true, []string{"x-amz-content-sha256", hexSHA([]byte("other"))}, 400, "XAmzContentSHA256Mismatch"},
		{"missing payload hash", "https://loot.s3.amazonaws.com/d.csv", data, true, []string{"x-amz-content-sha256", ""}, 400, "InvalidRequest"},
		{"content-md5", "https://loot.s3.amazonaws.com/e.csv", data, true, []string{"Content-MD5", base64.StdEncoding.EncodeToString(md5sum[:])}, 200, ""},
		{"content-md5 mismatch", "https://loot.s3.amazonaws.com/d.csv", data, true, []string{"Content-MD5", base64.StdEncoding.EncodeToString(make([]byte, 16))}, 400, "BadDigest"},
		{"aws-chunked", "https://loot.s3.amazonaws.com/f.csv", awsChunked(data, 10), true,
			[]string{"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "Content-Encoding", "aws-chunked", "x-amz-decoded-content-length", decoded}, 200, ""},
		{"aws-chunked with a crc32 trailer", "https://loot.s3.amazonaws.com/g.csv", awsChunked(data, 64, "x-amz-checksum-crc32:"+crcB64), true,
			[]string{"x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding", "aws-chunked", "x-amz-decoded-content-length", decoded, "x-amz-trailer", "x-amz-checksum-crc32"}, 200, ""},
		{"aws-chunked, wrong trailer", "https://loot.s3.amazonaws.com/d.csv", awsChunked(data, 64, "x-amz-checksum-crc32:AAAAAA=="), true,
			[]string{"x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-decoded-content-length", decoded}, 400, "BadDigest"},
		{"aws-chunked, wrong decoded length", "https://loot.s3.amazonaws.com/d.csv", awsChunked(data, 10), true,
			[]string{"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "x-amz-decoded-content-length", "3"}, 400, "IncompleteBody"},
		{"aws-chunked, cut short", "https://loot.s3.amazonaws.com/d.csv", awsChunked(data, 10)[:30], true,
			[]string{"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "x-amz-decoded-content-length", decoded}, 400, "IncompleteBody"},
		{"no such bucket", "https://nothing.s3.amazonaws.com/a.csv", data, true, nil, 404, "NoSuchBucket"},
		{"a part copied from an object is not served", "https://loot.s3.amazonaws.com/h.csv?partNumber=1&uploadId=x", nil, true, []string{"x-amz-copy-source", "/loot/a.csv"}, 501, "NotImplemented"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mark := len(settled(t, e))
			rec := s3Do(t, e, "PUT", tc.url, tc.body, tc.signed, tc.headers...)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
			entries := settled(t, e)[mark:]
			require.Len(t, entries, 1)
			if tc.code != "" {
				assert.Contains(t, rec.Body.String(), "<Code>"+tc.code+"</Code>")
				assert.Empty(t, entries[0].Files, "a refused upload stores nothing")
				return
			}
			assert.Equal(t, `"`+hex.EncodeToString(md5sum[:])+`"`, rec.Header().Get("ETag"))
			require.Len(t, entries[0].Files, 1)
			assert.Equal(t, hexSHA(data), entries[0].Files[0].SHA256, "the ledger holds the object's bytes, unframed")
			get := s3Do(t, e, "GET", tc.url, nil, true)
			assert.Equal(t, 200, get.Code)
			assert.Equal(t, data, get.Body.Bytes())
		})
	}
	// A read of a part of an object, and of one that is not there.
	rng := s3Do(t, e, "GET", "https://loot.s3.amazonaws.com/a.csv", nil, true, "Range", "bytes=0-7")
	assert.Equal(t, 206, rng.Code)
	assert.Equal(t, "AKIAFAKE", rng.Body.String())
	assert.Equal(t, 404, s3Do(t, e, "GET", "https://loot.s3.amazonaws.com/none", nil, true).Code)
	assert.Equal(t, 404, s3Do(t, e, "HEAD", "https://loot.s3.amazonaws.com/none", nil, true).Code)
}

func TestS3ListAndDelete(t *testing.T) {
	e := newTestEmulator(t, Config{})
	require.Equal(t, 200, s3Do(t, e, "PUT", "https://s3.amazonaws.com/loot", nil, true).Code)
	assert.Equal(t, 409, s3Do(t, e, "PUT", "https://loot.s3.amazonaws.com/", nil, true).Code, "BucketAlreadyOwnedByYou")
	assert.Equal(t, 200, s3Do(t, e, "HEAD", "https://loot.s3.amazonaws.com/", nil, true).Code)
	assert.Equal(t, 404, s3Do(t, e, "HEAD", "https://other.s3.amazonaws.com/", nil, true).Code)
	assert.Equal(t, 400, s3Do(t, e, "PUT", "https://s3.amazonaws.com/No_Such", nil, true).Code, "InvalidBucketName")
	for _, k := range []string{"a.txt", "d/1.txt", "d/2.txt", "e f.txt", "z.txt"} {
		require.Equal(t, 200, s3Do(t, e, "PUT", "https://loot.s3.amazonaws.com/"+strings.ReplaceAll(k, " ", "%20"), []byte(k), true).Code)
	}
	list := func(query string) string {
		rec := s3Do(t, e, "GET", "https://loot.s3.amazonaws.com/?"+query, nil, true)
		require.Equal(t, 200, rec.Code, rec.Body.String())
		return rec.Body.String()
	}
	all := list("list-type=2&encoding-type=url")
	assert.Contains(t, all, "<KeyCount>5</KeyCount>")
	assert.Contains(t, all, "<Key>e+f.txt</Key>", "url encoding of keys")
	grouped := list("list-type=2&delimiter=%2F")
	assert.Contains(t, grouped, "<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>")
	assert.Contains(t, grouped, "<KeyCount>4</KeyCount>")
	page := list("list-type=2&max-keys=2")
	assert.Contains(t, page, "<IsTruncated>true</IsTruncated>")
	tok := strings.Split(strings.Split(page, "<NextContinuationToken>")[1], "<")[0]
	next := list("list-type=2&max-keys=10&continuation-token=" + tok)
	assert.Contains(t, next, "<Key>d/2.txt</Key>")
	assert.NotContains(t, next, "<Key>d/1.txt</Key>")
	v1 := list("prefix=d%2F&marker=d%2F1.txt")
	assert.Contains(t, v1, "<Key>d/2.txt</Key>")
	assert.NotContains(t, v1, "<Key>d/1.txt</Key>")
	assert.Contains(t, s3Do(t, e, "GET", "https://s3.amazonaws.com/", nil, true).Body.String(), "<Name>loot</Name>")
	assert.Contains(t, s3Do(t, e, "GET", "https://loot.s3.amazonaws.com/?location", nil, true).Body.String(), "<LocationConstraint")
	assert.Equal(t, 501, s3Do(t, e, "GET", "https://loot.s3.amazonaws.com/?versioning", nil, true).Code, "a subresource the mock does not serve")

	assert.Equal(t, 409, s3Do(t, e, "DELETE", "https://loot.s3.amazonaws.com/", nil, true).Code, "BucketNotEmpty")
	for _, k := range []string{"a.txt", "d/1.txt", "d/2.txt", "e%20f.txt", "z.txt"} {
		assert.Equal(t, 204, s3Do(t, e, "DELETE", "https://loot.s3.amazonaws.com/"+k, nil, true).Code)
	}
	assert.Equal(t, 204, s3Do(t, e, "DELETE", "https://loot.s3.amazonaws.com/", nil, true).Code)
	assert.Equal(t, 404, s3Do(t, e, "HEAD", "https://loot.s3.amazonaws.com/", nil, true).Code)
}

func TestS3Multipart(t *testing.T) {
	e := newTestEmulator(t, Config{})
	require.Equal(t, 200, s3Do(t, e, "PUT", "https://loot.s3.amazonaws.com/", nil, true).Code)
	big := make([]byte, s3MinPartSize+1000)
	_, _ = rand.Read(big)
	create := s3Do(t, e, "POST", "https://loot.s3.amazonaws.com/dump.bin?uploads", nil, true)
	require.Equal(t, 200, create.Code)
	id := strings.Split(strings.Split(create.Body.String(), "<UploadId>")[1], "<")[0]
	part := func(n int, data []byte) string {
		rec := s3Do(t, e, "PUT", fmt.Sprintf("https://loot.s3.amazonaws.com/dump.bin?partNumber=%d&uploadId=%s", n, id), data, true)
		require.Equal(t, 200, rec.Code, rec.Body.String())
		return rec.Header().Get("ETag")
	}
	complete := func(parts ...string) *httptest.ResponseRecorder {
		var b strings.Builder
		b.WriteString("<CompleteMultipartUpload>")
		for i := 0; i+1 < len(parts); i += 2 {
			fmt.Fprintf(&b, "<Part><PartNumber>%s</PartNumber><ETag>%s</ETag></Part>", parts[i], parts[i+1])
		}
		b.WriteString("</CompleteMultipartUpload>")
		return s3Do(t, e, "POST", "https://loot.s3.amazonaws.com/dump.bin?uploadId="+id, []byte(b.String()), true)
	}
	small := part(1, big[:1000])
	e2 := part(2, big[1000:])
	assert.Contains(t, complete("1", small, "2", e2).Body.String(), "EntityTooSmall")
	e1 := part(1, big[:s3MinPartSize])
	e2 = part(2, big[s3MinPartSize:])
	assert.Contains(t, complete("2", e2, "1", e1).Body.String(), "InvalidPartOrder")
	assert.Contains(t, complete("1", e1, "2", `"00"`).Body.String(), "InvalidPart")
	mark := len(settled(t, e))
	done := complete("1", e1, "2", e2)
	require.Equal(t, 200, done.Code, done.Body.String())
	assert.Contains(t, done.Body.String(), "-2&#34;</ETag>")
	entries := settled(t, e)[mark:]
	require.Len(t, entries, 1)
	require.Len(t, entries[0].Files, 1)
	assert.Equal(t, NewFile("dump.bin", big), entries[0].Files[0], "the assembled object, in the ledger")
	assert.Equal(t, big, s3Do(t, e, "GET", "https://loot.s3.amazonaws.com/dump.bin", nil, true).Body.Bytes())
	assert.Contains(t, complete("1", e1).Body.String(), "NoSuchUpload", "a completed upload is gone")
}

func TestS3Names(t *testing.T) {
	for host, want := range map[string]string{
		"s3.amazonaws.com":                "s3.amazonaws.com",
		"loot.s3.amazonaws.com":           "*.s3.amazonaws.com",
		"loot.s3.us-east-1.amazonaws.com": "*.s3.us-east-1.amazonaws.com",
		"a.b.s3.amazonaws.com":            "",
		".s3.amazonaws.com":               "",
		"s3.eu-west-1.amazonaws.com":      "",
		"api.github.com":                  "api.github.com",
	} {
		assert.Equal(t, want, ServedName(host), host)
	}
}

// rcloneConf is an rclone remote "exfil" for S3 with the fake keys.
func rcloneConf(t *testing.T, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rclone.conf")
	conf := "[exfil]\ntype = s3\nacl = private\naccess_key_id = " + fakeAccessKey + "\nsecret_access_key = " + fakeSecretKey + "\n" + extra
	require.NoError(t, os.WriteFile(p, []byte(conf), 0o600))
	return p
}

// TestRcloneCopiesToTheMock runs the real rclone through the proxy, with
// virtual-hosted (provider AWS) and path-style (an endpoint) addressing: a
// multipart upload, small objects, a listing and a read-back, and the
// ledger holds every file's bytes.
func TestRcloneCopiesToTheMock(t *testing.T) {
	if _, err := exec.LookPath("rclone"); err != nil {
		t.Skip("rclone not installed (Debian package rclone)")
	}
	src := t.TempDir()
	files := map[string][]byte{
		"finance_q3.csv": []byte("account,balance\nACME,1000000\n"),
		"creds.txt":      []byte("AKIAFAKE\n"),
		"dump.bin":       make([]byte, 5<<20+123),
	}
	_, _ = rand.Read(files["dump.bin"])
	for name, data := range files {
		require.NoError(t, os.WriteFile(filepath.Join(src, name), data, 0o600))
	}
	for _, tc := range []struct{ name, conf, host string }{
		{"virtual-hosted", "provider = AWS\nregion = us-east-1\n", "t1567-exfil.s3.us-east-1.amazonaws.com"},
		{"path-style", "provider = Other\nregion = us-east-1\nendpoint = https://s3.us-east-1.amazonaws.com\n", "s3.us-east-1.amazonaws.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t)
			conf := rcloneConf(t, tc.conf)
			rclone := func(args ...string) string {
				out, err := p.run(t, src, "rclone", append([]string{"--config", conf, "--low-level-retries", "1", "--retries", "1"}, args...)...)
				require.NoError(t, err, out)
				return out
			}
			rclone("copy", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", src, "exfil:t1567-exfil")
			ledger := settled(t, p.e)
			stored := map[string]string{}
			for _, en := range ledger {
				if en.IsRequest() && en.Method != "CONNECT" {
					assert.Equal(t, tc.host, en.Host, "%s %s", en.Method, en.Path)
					assert.Equal(t, "aws4-hmac-sha256", en.AuthScheme)
				}
				for _, f := range en.Files {
					stored[f.Name] = f.SHA256
				}
			}
			for name, data := range files {
				assert.Equal(t, hexSHA(data), stored[name], "%s in the ledger", name)
			}
			assert.Contains(t, rclone("lsf", "exfil:t1567-exfil"), "dump.bin")
			assert.Equal(t, string(files["finance_q3.csv"]), rclone("cat", "exfil:t1567-exfil/finance_q3.csv"))
			rclone("check", src, "exfil:t1567-exfil")
		})
	}
}
