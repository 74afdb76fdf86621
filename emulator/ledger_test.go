package emulator

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUploadedListsArchiveMembers: an uploaded tar.gz or zip is recorded
// with each regular file inside it, so archived staged files are accounted
// for; any other content is the file alone.
func TestUploadedListsArchiveMembers(t *testing.T) {
	members := map[string][]byte{"finance.csv": []byte("a,b\n1,2\n"), "creds.txt": []byte("user:pass\n")}

	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "dir/", Typeflag: tar.TypeDir, Mode: 0o755}))
	for _, name := range []string{"finance.csv", "creds.txt"} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(members[name]))}))
		_, err := tw.Write(members[name])
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())

	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	w, err := zw.Create("finance.csv")
	require.NoError(t, err)
	_, err = w.Write(members["finance.csv"])
	require.NoError(t, err)
	require.NoError(t, zw.Close())

	tests := []struct {
		name    string
		content []byte
		want    []File
	}{
		{"backup.tgz", tgz.Bytes(), []File{NewFile("backup.tgz", tgz.Bytes()),
			NewFile("backup.tgz!finance.csv", members["finance.csv"]), NewFile("backup.tgz!creds.txt", members["creds.txt"])}},
		{"backup.zip", zipped.Bytes(), []File{NewFile("backup.zip", zipped.Bytes()), NewFile("backup.zip!finance.csv", members["finance.csv"])}},
		{"notes.txt", []byte("plain text, no archive\n"), []File{NewFile("notes.txt", []byte("plain text, no archive\n"))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, uploaded(tc.name, payloadOf(tc.content)))
		})
	}
}

func TestDeliveredIsWhatTheClientWasToldWasStored(t *testing.T) {
	t.Parallel()
	files := []File{NewFile("a.txt", []byte("a"))}
	tests := []struct {
		name  string
		entry Entry
		want  []File
	}{
		{"accepted and answered", Entry{Method: "PUT", Status: 201, Files: files}, files},
		{"answer not written", Entry{Method: "PUT", Status: 201, Files: files, Undelivered: true}, nil},
		{"refused", Entry{Method: "PUT", Status: 422, Files: files}, nil},
		{"not a request", Entry{Kind: KindTLS, Files: files}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.entry.Delivered())
		})
	}
}
