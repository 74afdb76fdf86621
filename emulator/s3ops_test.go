package emulator

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func md5Hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

func md5B64(b []byte) string { s := md5.Sum(b); return base64.StdEncoding.EncodeToString(s[:]) }

// TestS3CopyObject copies as the CopyObject API describes it: a PUT with
// x-amz-copy-source ("bucket/key", URL-encoded, optionally with a leading
// slash and ?versionId), the metadata directive, and the
// x-amz-copy-source-if-* conditions; the ledger records a copy of stored
// bytes, never an uploaded file.
func TestS3CopyObject(t *testing.T) {
	e := newTestEmulator(t, Config{})
	data := []byte("account,balance\nACME,1000000\n")
	for _, b := range []string{"loot", "other"} {
		require.Equal(t, 200, s3Do(t, e, "PUT", "https://"+b+".s3.amazonaws.com/", nil, true).Code)
	}
	put := s3Do(t, e, "PUT", "https://loot.s3.amazonaws.com/a%20b.csv", data, true, "Content-Type", "text/csv", "x-amz-meta-owner", "finance")
	require.Equal(t, 200, put.Code)
	etag := put.Header().Get("ETag")
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)

	cases := []struct {
		name, dst string
		headers   []string
		status    int
		code      string
		// contentType and owner are what a read of the copy answers.
		contentType, owner string
	}{
		{"copy", "https://loot.s3.amazonaws.com/c.csv", []string{"x-amz-copy-source", "loot/a%20b.csv"}, 200, "", "text/csv", "finance"},
		{"leading slash, other bucket, path style", "https://s3.amazonaws.com/other/d.csv", []string{"x-amz-copy-source", "/loot/a%20b.csv"}, 200, "", "text/csv", "finance"},
		{"the unversioned version", "https://loot.s3.amazonaws.com/e.csv", []string{"x-amz-copy-source", "/loot/a%20b.csv?versionId=null"}, 200, "", "text/csv", "finance"},
		{"metadata replaced", "https://loot.s3.amazonaws.com/f.csv", []string{"x-amz-copy-source", "loot/a%20b.csv", "x-amz-metadata-directive", "REPLACE", "Content-Type", "application/octet-stream"}, 200, "", "application/octet-stream", ""},
		{"onto itself, metadata replaced", "https://loot.s3.amazonaws.com/c.csv", []string{"x-amz-copy-source", "loot/c.csv", "x-amz-metadata-directive", "REPLACE", "x-amz-meta-owner", "it"}, 200, "", "binary/octet-stream", "it"},
		{"If-Match holds, If-Unmodified-Since does not", "https://loot.s3.amazonaws.com/g.csv", []string{"x-amz-copy-source", "loot/a%20b.csv", "x-amz-copy-source-if-match", etag, "x-amz-copy-source-if-unmodified-since", past}, 200, "", "text/csv", "finance"},
		{"onto itself unchanged", "https://loot.s3.amazonaws.com/c.csv", []string{"x-amz-copy-source", "loot/c.csv"}, 400, "InvalidRequest", "", ""},
		{"no such key", "https://loot.s3.amazonaws.com/x.csv", []string{"x-amz-copy-source", "loot/none.csv"}, 404, "NoSuchKey", "", ""},
		{"no such source bucket", "https://loot.s3.amazonaws.com/x.csv", []string{"x-amz-copy-source", "nothing/a.csv"}, 404, "NoSuchBucket", "", ""},
		{"no such destination bucket", "https://nothing.s3.amazonaws.com/x.csv", []string{"x-amz-copy-source", "loot/a%20b.csv"}, 404, "NoSuchBucket", "", ""},
		{"a version the bucket never had", "https://loot.s3.amazonaws.com/x.csv", []string{"x-amz-copy-source", "loot/a%20b.csv?versionId=3HL4kqtJlcpXroDTDmJ"}, 404, "NoSuchVersion", "", ""},
		{"no key in the source", "https://loot.s3.amazonaws.com/x.csv", []string{"x-amz-copy-source", "loot"}, 400, "InvalidArgument", "", ""},
		{"unknown directive", "https://loot.s3.amazonaws.com/x.csv", []string{"x-amz-copy-source", "loot/a%20b.csv", "x-amz-metadata-directive", "MERGE"}, 400, "InvalidArgument", "", ""},
		{"If-Match fails", "https://loot.s3.amazonaws.com/x.csv", []string{"x-amz-copy-source", "loot/a%20b.csv", "x-amz-copy-source-if-match", `"0123"`}, 412, "PreconditionFailed", "", ""},
		{"If-None-Match names it", "https://loot.s3.amazonaws.com/x.csv", []string{"x-amz-copy-source", "loot/a%20b.csv", "x-amz-copy-source-if-none-match", etag}, 412, "PreconditionFailed", "", ""},
		{"not modified since", "https://loot.s3.amazonaws.com/x.csv", []string{"x-amz-copy-source", "loot/a%20b.csv", "x-amz-copy-source-if-modified-since", future}, 412, "PreconditionFailed", "", ""},
		{"unsigned", "https://loot.s3.amazonaws.com/x.csv", []string{"x-amz-copy-source", "loot/a%20b.csv", "Authorization", ""}, 403, "AccessDenied", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mark := len(settled(t, e))
			rec := s3Do(t, e, "PUT", tc.dst, nil, true, tc.headers...)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
			entries := settled(t, e)[mark:]
			require.Len(t, entries, 1)
			assert.Empty(t, entries[0].Files, "a copy brings no client bytes")
			if tc.code != "" {
				assert.Contains(t, rec.Body.String(), "<Code>"+tc.code+"</Code>")
				assert.Empty(t, entries[0].Objects)
				assert.Equal(t, 404, s3Do(t, e, "GET", "https://loot.s3.amazonaws.com/x.csv", nil, true).Code, "nothing stored")
				return
			}
			var res struct {
				XMLName      xml.Name `xml:"CopyObjectResult"`
				LastModified string
				ETag         string
			}
			require.NoError(t, xml.Unmarshal(rec.Body.Bytes(), &res), rec.Body.String())
			assert.Equal(t, etag, res.ETag, "the copy's ETag is its bytes' MD5")
			_, err := time.Parse(s3TimeFormat, res.LastModified)
			assert.NoError(t, err)
			require.Len(t, entries[0].Objects, 1)
			got := entries[0].Objects[0]
			assert.Equal(t, ActionCopy, got.Action)
			assert.Equal(t, hexSHA(data), got.SHA256)
			assert.Equal(t, int64(len(data)), got.Size)
			assert.Contains(t, []string{"s3://loot/a b.csv", "s3://loot/c.csv"}, got.Source)
			read := s3Do(t, e, "GET", tc.dst, nil, true)
			require.Equal(t, 200, read.Code)
			assert.Equal(t, data, read.Body.Bytes())
			assert.Equal(t, tc.contentType, read.Header().Get("Content-Type"))
			assert.Equal(t, tc.owner, read.Header().Get("x-amz-meta-owner"))
		})
	}
}

// deleteBody is a DeleteObjects request body as the API documents it.
func deleteBody(quiet bool, keys ...string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	for _, k := range keys {
		key, version, _ := strings.Cut(k, "#")
		b.WriteString("<Object><Key>")
		_ = xml.EscapeText(&b, []byte(key))
		b.WriteString("</Key>")
		if version != "" {
			b.WriteString("<VersionId>" + version + "</VersionId>")
		}
		b.WriteString("</Object>")
	}
	fmt.Fprintf(&b, "<Quiet>%t</Quiet></Delete>", quiet)
	return []byte(b.String())
}

type deleteResult struct {
	Deleted []struct{ Key string }       `xml:"Deleted"`
	Errors  []struct{ Key, Code string } `xml:"Error"`
}

// TestS3DeleteObjects deletes as the DeleteObjects API describes it: POST
// ?delete with up to 1,000 keys, refused without an integrity value
// (Content-MD5 or a flexible checksum) or with one that does not match,
// each key deleted or failing on its own, quiet mode answering only the
// failures, and every key in the ledger with what it removed.
func TestS3DeleteObjects(t *testing.T) {
	e := newTestEmulator(t, Config{})
	require.Equal(t, 200, s3Do(t, e, "PUT", "https://loot.s3.amazonaws.com/", nil, true).Code)
	stored := map[string][]byte{}
	store := func(keys ...string) {
		for _, k := range keys {
			stored[k] = []byte("secret of " + k)
			require.Equal(t, 200, s3Do(t, e, "PUT", "https://loot.s3.amazonaws.com/"+strings.ReplaceAll(k, " ", "%20"), stored[k], true).Code)
		}
	}
	crc := func(b []byte) string {
		h := crc32.NewIEEE()
		h.Write(b)
		return base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	nvme := func(b []byte) string {
		h := crc64.New(crc64.MakeTable(0x9a6c9329ac4bc9b5))
		h.Write(b)
		return base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	require.Equal(t, uint64(0xae8b14860a799888), crc64.Checksum([]byte("123456789"), crc64.MakeTable(0x9a6c9329ac4bc9b5)),
		"the table is CRC-64/NVME's: its published check value")
	long := strings.Repeat("k", s3MaxKeyBytes+1)
	many := make([]string, s3MaxDeleteKeys+1)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}

	cases := []struct {
		name    string
		stored  []string
		body    []byte
		headers func(body []byte) []string // nil: Content-MD5
		status  int
		code    string
		deleted []string // keys answered deleted, in order
		failed  []string // key=code answered as errors
		gone    []string // keys no longer stored
	}{
		{name: "verbose", stored: []string{"a.csv", "d/e f.csv", "v.csv"},
			body:    deleteBody(false, "a.csv", "d/e f.csv", "never.csv", "v.csv#null", long, "a.csv#3HL4kqtJlcpXroDTDmJ"),
			status:  200,
			deleted: []string{"a.csv", "d/e f.csv", "never.csv", "v.csv"},
			failed:  []string{long + "=KeyTooLongError", "a.csv=NoSuchVersion"},
			gone:    []string{"a.csv", "d/e f.csv", "v.csv"}},
		{name: "quiet", stored: []string{"q.csv"}, body: deleteBody(true, "q.csv", "q.csv#abc"), status: 200,
			failed: []string{"q.csv=NoSuchVersion"}, gone: []string{"q.csv"}},
		{name: "a crc32 checksum instead of Content-MD5", stored: []string{"c.csv"}, body: deleteBody(false, "c.csv"),
			headers: func(b []byte) []string { return []string{"x-amz-checksum-crc32", crc(b)} }, status: 200,
			deleted: []string{"c.csv"}, gone: []string{"c.csv"}},
		{name: "a crc64nvme checksum", stored: []string{"n.csv"}, body: deleteBody(true, "n.csv"),
			headers: func(b []byte) []string { return []string{"x-amz-checksum-crc64nvme", nvme(b)} }, status: 200, gone: []string{"n.csv"}},
		{name: "a checksum in the aws-chunked trailer", stored: []string{"t.csv"}, body: awsChunked(deleteBody(false, "t.csv"), 64, "x-amz-checksum-crc32:"+crc(deleteBody(false, "t.csv"))),
			headers: func([]byte) []string {
				return []string{"x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-trailer", "x-amz-checksum-crc32",
					"x-amz-sdk-checksum-algorithm", "CRC32", "x-amz-decoded-content-length", fmt.Sprint(len(deleteBody(false, "t.csv")))}
			}, status: 200, deleted: []string{"t.csv"}, gone: []string{"t.csv"}},
		{name: "no integrity value", stored: []string{"m.csv"}, body: deleteBody(false, "m.csv"),
			headers: func([]byte) []string { return nil }, status: 400, code: "InvalidRequest"},
		{name: "an algorithm announced, no value sent", stored: []string{"m.csv"}, body: deleteBody(false, "m.csv"),
			headers: func([]byte) []string { return []string{"x-amz-sdk-checksum-algorithm", "CRC32"} }, status: 400, code: "InvalidRequest"},
		{name: "Content-MD5 of other bytes", stored: []string{"m.csv"}, body: deleteBody(false, "m.csv"),
			headers: func([]byte) []string { return []string{"Content-MD5", md5B64([]byte("x"))} }, status: 400, code: "BadDigest"},
		{name: "crc32 of other bytes", stored: []string{"m.csv"}, body: deleteBody(false, "m.csv"),
			headers: func([]byte) []string { return []string{"x-amz-checksum-crc32", crc([]byte("x"))} }, status: 400, code: "BadDigest"},
		{name: "more than 1,000 keys", body: deleteBody(false, many...), status: 400, code: "MalformedXML"},
		{name: "no key", body: deleteBody(false), status: 400, code: "MalformedXML"},
		{name: "an object without its Key", body: []byte("<Delete><Object><VersionId>null</VersionId></Object></Delete>"), status: 400, code: "MalformedXML"},
		{name: "an empty Key", body: deleteBody(false, "a.csv", ""), status: 400, code: "MalformedXML"},
		{name: "not XML", body: []byte("a.csv\n"), status: 400, code: "MalformedXML"},
		{name: "another document", body: []byte("<CompleteMultipartUpload><Part/></CompleteMultipartUpload>"), status: 400, code: "MalformedXML"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store(tc.stored...)
			headers := []string{"Content-MD5", md5B64(tc.body)}
			if tc.headers != nil {
				headers = tc.headers(tc.body)
			}
			mark := len(settled(t, e))
			rec := s3Do(t, e, "POST", "https://loot.s3.amazonaws.com/?delete", tc.body, true, headers...)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			entries := settled(t, e)[mark:]
			require.Len(t, entries, 1)
			if tc.code != "" {
				assert.Contains(t, rec.Body.String(), "<Code>"+tc.code+"</Code>")
				assert.Empty(t, entries[0].Objects)
				for _, k := range tc.stored {
					assert.Equal(t, 200, s3Do(t, e, "HEAD", "https://loot.s3.amazonaws.com/"+strings.ReplaceAll(k, " ", "%20"), nil, true).Code, "%s is kept", k)
				}
				return
			}
			var res deleteResult
			require.NoError(t, xml.Unmarshal(rec.Body.Bytes(), &res), rec.Body.String())
			var deleted, failed []string
			for _, d := range res.Deleted {
				deleted = append(deleted, d.Key)
			}
			for _, f := range res.Errors {
				failed = append(failed, f.Key+"="+f.Code)
			}
			assert.Equal(t, tc.deleted, deleted)
			assert.Equal(t, tc.failed, failed)
			for _, k := range tc.gone {
				assert.Equal(t, 404, s3Do(t, e, "HEAD", "https://loot.s3.amazonaws.com/"+strings.ReplaceAll(k, " ", "%20"), nil, true).Code, "%s is gone", k)
			}
			// The ledger holds every key asked for, what it removed and
			// why one failed.
			assert.Len(t, entries[0].Objects, strings.Count(string(tc.body), "<Object>"))
			for _, a := range entries[0].Objects {
				assert.Equal(t, ActionDelete, a.Action)
				assert.Equal(t, "loot", a.Bucket)
				switch data, ok := stored[a.Key]; {
				case a.Error != "":
					assert.Contains(t, failed, a.Key+"="+a.Error)
				case ok && slices.Contains(tc.gone, a.Key):
					assert.Equal(t, hexSHA(data), a.SHA256, a.Key)
					assert.Equal(t, int64(len(data)), a.Size)
				default:
					assert.Empty(t, a.SHA256, "%s held nothing", a.Key)
				}
			}
		})
	}
	assert.Equal(t, 404, s3Do(t, e, "POST", "https://nothing.s3.amazonaws.com/?delete", deleteBody(false, "a"), true, "Content-MD5", md5B64(deleteBody(false, "a"))).Code)
}

// TestS3CopyOfAMultipartObject: a copy made in one request is one part,
// so its ETag is the plain MD5 of the bytes, not the source's "-N" one.
func TestS3CopyOfAMultipartObject(t *testing.T) {
	e := newTestEmulator(t, Config{})
	require.Equal(t, 200, s3Do(t, e, "PUT", "https://loot.s3.amazonaws.com/", nil, true).Code)
	big := make([]byte, s3MinPartSize+10)
	_, _ = rand.Read(big)
	create := s3Do(t, e, "POST", "https://loot.s3.amazonaws.com/dump.bin?uploads", nil, true)
	id := strings.Split(strings.Split(create.Body.String(), "<UploadId>")[1], "<")[0]
	var parts strings.Builder
	parts.WriteString("<CompleteMultipartUpload>")
	for i, chunk := range [][]byte{big[:s3MinPartSize], big[s3MinPartSize:]} {
		rec := s3Do(t, e, "PUT", fmt.Sprintf("https://loot.s3.amazonaws.com/dump.bin?partNumber=%d&uploadId=%s", i+1, id), chunk, true)
		fmt.Fprintf(&parts, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i+1, rec.Header().Get("ETag"))
	}
	parts.WriteString("</CompleteMultipartUpload>")
	require.Equal(t, 200, s3Do(t, e, "POST", "https://loot.s3.amazonaws.com/dump.bin?uploadId="+id, []byte(parts.String()), true).Code)
	rec := s3Do(t, e, "PUT", "https://loot.s3.amazonaws.com/copy.bin", nil, true, "x-amz-copy-source", "loot/dump.bin")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), md5Hex(big))
	head := s3Do(t, e, "HEAD", "https://loot.s3.amazonaws.com/copy.bin", nil, true)
	assert.Equal(t, `"`+md5Hex(big)+`"`, head.Header().Get("ETag"))
	assert.Contains(t, s3Do(t, e, "HEAD", "https://loot.s3.amazonaws.com/dump.bin", nil, true).Header().Get("ETag"), "-2", "the source keeps its own")
}

// TestRcloneServerSideCopyMoveAndPurge runs the real rclone's server-side
// operations: copyto and moveto within the remote are CopyObject (moveto
// then a DeleteObject of the source), and purge deletes each object (rclone
// 1.60 sends one DeleteObject a key, never DeleteObjects) and the bucket.
func TestRcloneServerSideCopyMoveAndPurge(t *testing.T) {
	if _, err := exec.LookPath("rclone"); err != nil {
		t.Skip("rclone not installed (Debian package rclone)")
	}
	src := t.TempDir()
	files := map[string][]byte{"finance_q3.csv": []byte("account,balance\nACME,1000000\n"), "creds.txt": []byte("AKIAFAKE\n")}
	for name, data := range files {
		require.NoError(t, os.WriteFile(filepath.Join(src, name), data, 0o600))
	}
	p := startProxy(t)
	conf := rcloneConf(t, "provider = AWS\nregion = us-east-1\n")
	rclone := func(args ...string) string {
		out, err := p.run(t, src, "rclone", append([]string{"--config", conf, "--low-level-retries", "1", "--retries", "1"}, args...)...)
		require.NoError(t, err, out)
		return out
	}
	rclone("copy", src, "exfil:t1567-exfil")
	actions := func(entries []Entry) (out []ObjectAction) {
		for _, en := range entries {
			assert.Empty(t, en.Files, "%s %s uploads nothing", en.Method, en.Path)
			out = append(out, en.Objects...)
		}
		return out
	}

	mark := len(settled(t, p.e))
	rclone("copyto", "exfil:t1567-exfil/finance_q3.csv", "exfil:t1567-exfil/backup/finance.csv")
	assert.Equal(t, []ObjectAction{{Action: ActionCopy, Bucket: "t1567-exfil", Key: "backup/finance.csv", Source: "s3://t1567-exfil/finance_q3.csv",
		Size: int64(len(files["finance_q3.csv"])), SHA256: hexSHA(files["finance_q3.csv"])}}, actions(requestsSince(t, p.e, mark)), "copyto is one CopyObject")
	assert.Equal(t, string(files["finance_q3.csv"]), rclone("cat", "exfil:t1567-exfil/backup/finance.csv"))

	mark = len(settled(t, p.e))
	rclone("moveto", "exfil:t1567-exfil/creds.txt", "exfil:t1567-exfil/moved.txt")
	assert.Equal(t, []ObjectAction{
		{Action: ActionCopy, Bucket: "t1567-exfil", Key: "moved.txt", Source: "s3://t1567-exfil/creds.txt", Size: int64(len(files["creds.txt"])), SHA256: hexSHA(files["creds.txt"])},
		{Action: ActionDelete, Bucket: "t1567-exfil", Key: "creds.txt", Size: int64(len(files["creds.txt"])), SHA256: hexSHA(files["creds.txt"])},
	}, actions(requestsSince(t, p.e, mark)), "moveto is a CopyObject, then a DeleteObject of the source")
	assert.NotContains(t, rclone("lsf", "-R", "exfil:t1567-exfil"), "creds.txt")

	mark = len(settled(t, p.e))
	rclone("purge", "exfil:t1567-exfil")
	got := map[string]string{}
	for _, a := range actions(requestsSince(t, p.e, mark)) {
		assert.Equal(t, ActionDelete, a.Action)
		got[a.Key] = a.SHA256
	}
	assert.Equal(t, map[string]string{
		"finance_q3.csv": hexSHA(files["finance_q3.csv"]), "backup/finance.csv": hexSHA(files["finance_q3.csv"]), "moved.txt": hexSHA(files["creds.txt"]),
	}, got, "every object purged, with the bytes it held")
	assert.Equal(t, 404, s3Do(t, p.e, "HEAD", "https://t1567-exfil.s3.amazonaws.com/", nil, true).Code, "the bucket went too")
}

// TestAWSCLIDeleteObjects sends DeleteObjects from the AWS CLI (botocore),
// which computes the body's integrity value itself.
func TestAWSCLIDeleteObjects(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed (pip install awscli); the Go requests of TestS3DeleteObjects still run")
	}
	p := startProxy(t)
	require.Equal(t, 200, s3Do(t, p.e, "PUT", "https://loot.s3.amazonaws.com/", nil, true).Code)
	for _, k := range []string{"a.csv", "b.csv"} {
		require.Equal(t, 200, s3Do(t, p.e, "PUT", "https://loot.s3.amazonaws.com/"+k, []byte(k), true).Code)
	}
	env := append(p.env, "AWS_ACCESS_KEY_ID="+fakeAccessKey, "AWS_SECRET_ACCESS_KEY="+fakeSecretKey, "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CA_BUNDLE="+p.caFile, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	if root := os.Getenv("PYENV_ROOT"); root != "" {
		env = append(env, "PYENV_ROOT="+root) // a pyenv shim finds its interpreter
	}
	mark := len(settled(t, p.e))
	cmd := exec.CommandContext(t.Context(), aws, "s3api", "delete-objects", "--bucket", "loot", "--output", "json",
		"--delete", `{"Objects":[{"Key":"a.csv"},{"Key":"b.csv","VersionId":"nope"},{"Key":"c.csv"}]}`)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), `"Key": "a.csv"`)
	assert.Contains(t, string(out), `"Code": "NoSuchVersion"`)
	entries := requestsSince(t, p.e, mark)
	require.Len(t, entries, 1)
	assert.Equal(t, "POST", entries[0].Method)
	assert.Equal(t, []ObjectAction{
		{Action: ActionDelete, Bucket: "loot", Key: "a.csv", Size: 5, SHA256: hexSHA([]byte("a.csv"))},
		{Action: ActionDelete, Bucket: "loot", Key: "b.csv", Error: "NoSuchVersion"},
		{Action: ActionDelete, Bucket: "loot", Key: "c.csv"},
	}, entries[0].Objects)
}

// requestsSince are the HTTP requests (not the proxy's CONNECTs) the
// ledger gained after its first mark entries.
func requestsSince(t *testing.T, e *Emulator, mark int) []Entry {
	t.Helper()
	var out []Entry
	for _, en := range settled(t, e)[mark:] {
		if en.IsRequest() && en.Method != "CONNECT" {
			out = append(out, en)
		}
	}
	return out
}
