package emulator

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// S3's limits on the server-side operations.
const (
	s3MaxDeleteKeys = 1000 // keys in one DeleteObjects request
	s3MaxKeyBytes   = 1024 // UTF-8 bytes in a key
)

var (
	errMalformedXML  = s3Error{http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema"}
	errNoSuchVersion = s3Error{http.StatusNotFound, "NoSuchVersion", "The specified version does not exist."}
)

// s3CopyObject answers CopyObject (a PUT with x-amz-copy-source): the
// destination gets the source's bytes, and under the COPY metadata
// directive (the default) its content type and metadata, REPLACE taking
// them from the request. The client sends none of the bytes, so the ledger
// records a copy, not an uploaded file. The mock's buckets are not
// versioned: a source versionId other than "null" does not exist.
func (e *Emulator) s3CopyObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	if _, ok := e.s3Payload(w, r); !ok {
		return
	}
	srcBucket, srcKey, version, ok := parseCopySource(r.Header.Get("x-amz-copy-source"))
	if !ok {
		writeS3Error(w, r, s3Error{http.StatusBadRequest, "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"})
		return
	}
	directive := strings.ToUpper(firstNonEmptyString(r.Header.Get("x-amz-metadata-directive"), "COPY"))
	if directive != "COPY" && directive != "REPLACE" {
		writeS3Error(w, r, s3Error{http.StatusBadRequest, "InvalidArgument", "Unknown metadata directive."})
		return
	}
	if srcBucket == bucket && srcKey == key && directive == "COPY" && !changesStoredAttributes(r.Header) {
		writeS3Error(w, r, s3Error{http.StatusBadRequest, "InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."})
		return
	}
	e.s3.mu.Lock()
	var src *s3Object
	fail := func() *s3Error {
		sb, db := e.s3.buckets[srcBucket], e.s3.buckets[bucket]
		if sb == nil || db == nil {
			return &errNoSuchBucket
		}
		if src = sb.objects[srcKey]; src == nil {
			return &errNoSuchKey
		}
		if version != "" && version != "null" {
			return &errNoSuchVersion
		}
		return nil
	}()
	e.s3.mu.Unlock()
	if fail != nil {
		writeS3Error(w, r, *fail)
		return
	}
	if !copyPreconditions(r.Header, src.etag, src.modified) {
		writeS3Error(w, r, s3Error{http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"})
		return
	}
	// One request copies the object whole: its ETag is the MD5 of the
	// bytes, even where the source was assembled from parts.
	o := *src
	if strings.Contains(o.etag, "-") {
		o.etag = `"` + hex.EncodeToString(sumOf(o.data, md5.New())) + `"`
	}
	if directive == "REPLACE" {
		fresh := s3NewObject(r, payloadOf(nil))
		o.contentType, o.meta = fresh.contentType, fresh.meta
	}
	o.modified = time.Now().UTC()
	if !e.s3WithBucket(w, r, bucket, func(b *s3Bucket) { b.objects[key] = &o }) {
		return
	}
	source := "s3://" + srcBucket + "/" + srcKey
	noteObjects(r, ObjectAction{Action: ActionCopy, Bucket: bucket, Key: key, Source: source, Size: o.data.Size(), SHA256: o.data.SHA256()})
	noteText(r, "object s3://%s/%s copied from %s (%d bytes, sha256 %s)", bucket, key, source, o.data.Size(), o.data.SHA256())
	writeXML(w, http.StatusOK, struct {
		XMLName      xml.Name `xml:"CopyObjectResult"`
		NS           string   `xml:"xmlns,attr"`
		LastModified string
		ETag         string
	}{NS: s3XMLNS, LastModified: o.modified.Format(s3TimeFormat), ETag: o.etag})
}

// parseCopySource splits x-amz-copy-source, "[/]bucket/key[?versionId=id]"
// with the key URL-encoded; ok is false when it names no bucket and key.
func parseCopySource(v string) (bucket, key, version string, ok bool) {
	v, query, _ := strings.Cut(v, "?")
	if q, err := url.ParseQuery(query); err == nil {
		version = q.Get("versionId")
	}
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	bucket, key, _ = strings.Cut(strings.TrimPrefix(v, "/"), "/")
	return bucket, key, version, bucket != "" && key != ""
}

// changesStoredAttributes reports whether a copy request sets what makes
// copying an object onto itself legal.
func changesStoredAttributes(h http.Header) bool {
	for _, name := range []string{"x-amz-storage-class", "x-amz-website-redirect-location", "x-amz-server-side-encryption"} {
		if h.Get(name) != "" {
			return true
		}
	}
	return false
}

// copyPreconditions applies the x-amz-copy-source-if-* headers as S3 does:
// a matching If-Match wins over a failed If-Unmodified-Since, and a failed
// If-None-Match fails whatever If-Modified-Since says.
func copyPreconditions(h http.Header, etag string, modified time.Time) bool {
	modified = modified.Truncate(time.Second)
	since := func(name string) (time.Time, bool) {
		t, err := http.ParseTime(h.Get(name))
		return t, err == nil
	}
	if m := h.Get("x-amz-copy-source-if-match"); m != "" {
		if !etagListed(m, etag) {
			return false
		}
	} else if t, ok := since("x-amz-copy-source-if-unmodified-since"); ok && modified.After(t) {
		return false
	}
	if m := h.Get("x-amz-copy-source-if-none-match"); m != "" {
		return !etagListed(m, etag)
	}
	if t, ok := since("x-amz-copy-source-if-modified-since"); ok && !modified.After(t) {
		return false
	}
	return true
}

// etagListed reports whether a comma-separated If-Match list names etag.
func etagListed(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		if t = strings.Trim(strings.TrimSpace(t), `"`); t == "*" || t == strings.Trim(etag, `"`) {
			return true
		}
	}
	return false
}

// s3DeleteObject answers DeleteObject: 204 whether or not the key held an
// object, as S3 answers; the ledger says what, if anything, went.
func (e *Emulator) s3DeleteObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	var gone *s3Object
	if !e.s3WithBucket(w, r, bucket, func(b *s3Bucket) {
		gone = b.objects[key]
		delete(b.objects, key)
	}) {
		return
	}
	noteObjects(r, deleted(bucket, key, gone))
	w.WriteHeader(http.StatusNoContent)
}

func deleted(bucket, key string, gone *s3Object) ObjectAction {
	a := ObjectAction{Action: ActionDelete, Bucket: bucket, Key: key}
	if gone != nil {
		a.Size, a.SHA256 = gone.data.Size(), gone.data.SHA256()
	}
	return a
}

// s3DeleteObjects answers DeleteObjects (POST ?delete): up to 1,000 keys in
// an XML body, which S3 accepts only with an integrity value (Content-MD5,
// or an x-amz-checksum-* header or trailer) that matches it. Each key is deleted or
// fails on its own: a key longer than S3 allows, or a version other than
// the unversioned "null". A key with no object is reported deleted, as S3
// does. Quiet mode answers only the failures.
func (e *Emulator) s3DeleteObjects(w http.ResponseWriter, r *http.Request, bucket string) {
	body, checked, ok := e.s3CheckedPayload(w, r)
	if !ok {
		return
	}
	if checked == 0 {
		writeS3Error(w, r, s3Error{http.StatusBadRequest, "InvalidRequest", "Missing required header for this request: Content-MD5"})
		return
	}
	var req struct {
		XMLName xml.Name `xml:"Delete"`
		Objects []struct {
			Key       *string
			VersionID string `xml:"VersionId"`
		} `xml:"Object"`
		Quiet bool
	}
	if err := xml.NewDecoder(io.LimitReader(payloadReader(body), maxSmallBody)).Decode(&req); err != nil ||
		len(req.Objects) == 0 || len(req.Objects) > s3MaxDeleteKeys {
		writeS3Error(w, r, errMalformedXML)
		return
	}
	for _, o := range req.Objects {
		if o.Key == nil || *o.Key == "" {
			writeS3Error(w, r, errMalformedXML)
			return
		}
	}
	type result struct {
		Key       string
		VersionID string `xml:"VersionId,omitempty"`
	}
	type keyError struct {
		Key       string
		VersionID string `xml:"VersionId,omitempty"`
		Code      string
		Message   string
	}
	var done []result
	var failed []keyError
	var actions []ObjectAction
	removed := 0
	if !e.s3WithBucket(w, r, bucket, func(b *s3Bucket) {
		for _, o := range req.Objects {
			key := *o.Key
			var fail *s3Error
			switch {
			case len(key) > s3MaxKeyBytes:
				fail = &s3Error{http.StatusBadRequest, "KeyTooLongError", "Your key is too long"}
			case o.VersionID != "" && o.VersionID != "null":
				fail = &errNoSuchVersion
			}
			if fail != nil {
				failed = append(failed, keyError{key, o.VersionID, fail.Code, fail.Message})
				actions = append(actions, ObjectAction{Action: ActionDelete, Bucket: bucket, Key: key, Error: fail.Code})
				continue
			}
			gone := b.objects[key]
			delete(b.objects, key)
			if gone != nil {
				removed++
			}
			done = append(done, result{key, o.VersionID})
			actions = append(actions, deleted(bucket, key, gone))
		}
	}) {
		return
	}
	noteObjects(r, actions...)
	noteText(r, "%d key(s) of s3://%s deleted (%d held an object), %d failed", len(done), bucket, removed, len(failed))
	if req.Quiet {
		done = nil
	}
	writeXML(w, http.StatusOK, struct {
		XMLName xml.Name   `xml:"DeleteResult"`
		NS      string     `xml:"xmlns,attr"`
		Deleted []result   `xml:"Deleted"`
		Errors  []keyError `xml:"Error"`
	}{NS: s3XMLNS, Deleted: done, Errors: failed})
}
