package emulator

import (
	"bufio"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Amazon S3 as rclone and the AWS SDKs call it (ART's T1567.002 AWS test
// copies with rclone): path-style requests to the endpoints and
// virtual-hosted ones to <bucket>.<endpoint>, answered in S3's XML. What it
// checks is what S3 checks of the bytes: the declared payload hash
// (x-amz-content-sha256), Content-MD5, the x-amz-checksum-* values and
// aws-chunked framing; signatures cannot be checked, as the mock knows no
// secret key, but a request with no AWS signature at all is refused as S3
// refuses it. Every stored object is in the ledger with its name, size and
// sha256, a multipart upload once it is complete.

// s3Endpoints are the S3 endpoints served, each also as *.<endpoint> for
// virtual-hosted bucket names (servedWildcards).
var s3Endpoints = []string{"s3.amazonaws.com", "s3.us-east-1.amazonaws.com"}

const (
	s3Region      = "us-east-1"
	s3MinPartSize = 5 << 20 // every part but the last
	s3MaxKeys     = 1000
	s3XMLNS       = "http://s3.amazonaws.com/doc/2006-03-01/"
	s3TimeFormat  = "2006-01-02T15:04:05.000Z"
)

type s3Object struct {
	data        payload // kept on disk past a few KiB (payload.go)
	etag        string  // quoted, as S3 sends it
	contentType string
	meta        http.Header // x-amz-meta-*
	modified    time.Time
}

type s3Bucket struct {
	created time.Time
	objects map[string]*s3Object
}

type s3Upload struct {
	bucket, key string
	object      s3Object // content type and metadata, given at creation
	parts       map[int]*s3Object
}

// s3Store holds the buckets and the multipart uploads in progress.
type s3Store struct {
	mu      sync.Mutex
	buckets map[string]*s3Bucket
	uploads map[string]*s3Upload
}

// s3Error is S3's error document.
type s3Error struct {
	status  int
	Code    string
	Message string
}

var (
	errNoSuchBucket = s3Error{http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist"}
	errNoSuchKey    = s3Error{http.StatusNotFound, "NoSuchKey", "The specified key does not exist."}
	errNoSuchUpload = s3Error{http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."}
	errAccessDenied = s3Error{http.StatusForbidden, "AccessDenied", "Access Denied"}
	errNotSupported = s3Error{http.StatusNotImplemented, "NotImplemented", "A header or query you provided implies functionality that is not implemented (by this mock)."}
)

func (e *Emulator) s3Routes(routes map[string]http.Handler) {
	for _, ep := range s3Endpoints {
		routes[ep] = http.HandlerFunc(e.s3Serve)
		routes["*."+ep] = http.HandlerFunc(e.s3Serve)
	}
}

// s3Target splits a request into bucket and key: the bucket is the first
// label of a virtual-hosted name, else the first path segment.
func s3Target(host, path string) (bucket, key string) {
	path = strings.TrimPrefix(path, "/")
	for _, ep := range s3Endpoints {
		if b, ok := strings.CutSuffix(host, "."+ep); ok {
			return b, path
		}
	}
	bucket, key, _ = strings.Cut(path, "/")
	return bucket, key
}

var bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func (e *Emulator) s3Serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	id := s3RequestID()
	h.Set("Server", "AmazonS3")
	h.Set("x-amz-request-id", id)
	h.Set("x-amz-id-2", base64.StdEncoding.EncodeToString([]byte(id+id)))
	bucket, key := s3Target(e.serviceHost(r), r.URL.EscapedPath())
	if k, err := url.PathUnescape(key); err == nil {
		key = k
	}
	if !s3Signed(r) {
		writeS3Error(w, r, errAccessDenied)
		return
	}
	q := r.URL.Query()
	switch {
	case bucket == "" && r.Method == http.MethodGet:
		e.s3ListBuckets(w)
	case bucket == "":
		writeS3Error(w, r, s3Error{http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource."})
	case !bucketNameRE.MatchString(bucket):
		writeS3Error(w, r, s3Error{http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid."})
	case key == "":
		e.s3BucketOp(w, r, bucket, q)
	default:
		e.s3ObjectOp(w, r, bucket, key, q)
	}
}

func (e *Emulator) s3BucketOp(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) {
	switch {
	case r.Method == http.MethodPut && len(q) == 0:
		e.s3CreateBucket(w, r, bucket)
	case r.Method == http.MethodHead:
		if e.s3Bucket(bucket) == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("x-amz-bucket-region", s3Region)
	case r.Method == http.MethodGet && q.Has("location"):
		if e.s3Bucket(bucket) == nil {
			writeS3Error(w, r, errNoSuchBucket)
			return
		}
		// us-east-1 is the empty LocationConstraint.
		writeXML(w, http.StatusOK, struct {
			XMLName xml.Name `xml:"LocationConstraint"`
			NS      string   `xml:"xmlns,attr"`
		}{NS: s3XMLNS})
	case r.Method == http.MethodGet && isListQuery(q):
		e.s3List(w, r, bucket, q)
	case r.Method == http.MethodPost && q.Has("delete"):
		e.s3DeleteObjects(w, r, bucket)
	case r.Method == http.MethodDelete && len(q) == 0:
		e.s3DeleteBucket(w, r, bucket)
	default:
		writeS3Error(w, r, errNotSupported)
	}
}

func (e *Emulator) s3ObjectOp(w http.ResponseWriter, r *http.Request, bucket, key string, q url.Values) {
	switch {
	case r.Method == http.MethodPut && r.Header.Get("x-amz-copy-source") != "" && q.Has("uploadId"):
		// UploadPartCopy: rclone uses it only past 4.6 GiB.
		writeS3Error(w, r, errNotSupported)
	case r.Method == http.MethodPut && r.Header.Get("x-amz-copy-source") != "" && len(q) == 0:
		e.s3CopyObject(w, r, bucket, key)
	case r.Method == http.MethodPut && q.Has("uploadId"):
		e.s3UploadPart(w, r, q.Get("uploadId"), q.Get("partNumber"))
	case r.Method == http.MethodPut && len(q) == 0:
		e.s3PutObject(w, r, bucket, key)
	case r.Method == http.MethodPost && q.Has("uploads"):
		e.s3CreateMultipart(w, r, bucket, key)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		e.s3CompleteMultipart(w, r, bucket, key, q.Get("uploadId"))
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		e.s3.mu.Lock()
		_, ok := e.s3.uploads[q.Get("uploadId")]
		delete(e.s3.uploads, q.Get("uploadId"))
		e.s3.mu.Unlock()
		if !ok {
			writeS3Error(w, r, errNoSuchUpload)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete:
		e.s3DeleteObject(w, r, bucket, key)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		e.s3GetObject(w, r, bucket, key)
	default:
		writeS3Error(w, r, errNotSupported)
	}
}

// listParams are the query parameters of ListObjects (v1 and v2); a GET of
// a bucket with any other (?acl, ?versioning, ...) asks for a subresource.
var listParams = []string{"list-type", "prefix", "delimiter", "marker", "max-keys", "encoding-type",
	"continuation-token", "start-after", "fetch-owner"}

func isListQuery(q url.Values) bool {
	for k := range q {
		if !slices.Contains(listParams, k) {
			return false
		}
	}
	return true
}

// s3Signed reports whether r carries an AWS signature: a SigV4 or SigV2
// Authorization header, or a presigned URL's query.
func s3Signed(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(a, "AWS4-HMAC-SHA256 "):
		return strings.Contains(a, "Credential=") && strings.Contains(a, "Signature=")
	case strings.HasPrefix(a, "AWS "):
		return strings.Contains(a, ":")
	}
	q := r.URL.Query()
	return q.Get("X-Amz-Signature") != "" || q.Get("Signature") != ""
}

func (e *Emulator) s3Bucket(name string) *s3Bucket {
	e.s3.mu.Lock()
	defer e.s3.mu.Unlock()
	return e.s3.buckets[name]
}

// s3WithBucket runs f on bucket under the store's lock, or answers
// NoSuchBucket and returns false.
func (e *Emulator) s3WithBucket(w http.ResponseWriter, r *http.Request, bucket string, f func(*s3Bucket)) bool {
	e.s3.mu.Lock()
	b := e.s3.buckets[bucket]
	if b != nil {
		f(b)
	}
	e.s3.mu.Unlock()
	if b == nil {
		writeS3Error(w, r, errNoSuchBucket)
	}
	return b != nil
}

func (e *Emulator) s3CreateBucket(w http.ResponseWriter, r *http.Request, bucket string) {
	if _, ok := e.s3Payload(w, r); !ok {
		return
	}
	e.s3.mu.Lock()
	_, exists := e.s3.buckets[bucket]
	if !exists {
		if e.s3.buckets == nil {
			e.s3.buckets = map[string]*s3Bucket{}
		}
		e.s3.buckets[bucket] = &s3Bucket{created: time.Now().UTC(), objects: map[string]*s3Object{}}
	}
	e.s3.mu.Unlock()
	if exists {
		writeS3Error(w, r, s3Error{http.StatusConflict, "BucketAlreadyOwnedByYou",
			"Your previous request to create the named bucket succeeded and you already own it."})
		return
	}
	noteText(r, "bucket %s created", bucket)
	w.Header().Set("Location", "/"+bucket)
	w.WriteHeader(http.StatusOK)
}

func (e *Emulator) s3DeleteBucket(w http.ResponseWriter, r *http.Request, bucket string) {
	e.s3.mu.Lock()
	b := e.s3.buckets[bucket]
	empty := b != nil && len(b.objects) == 0
	if empty {
		delete(e.s3.buckets, bucket)
	}
	e.s3.mu.Unlock()
	switch {
	case b == nil:
		writeS3Error(w, r, errNoSuchBucket)
	case !empty:
		writeS3Error(w, r, s3Error{http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty"})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (e *Emulator) s3ListBuckets(w http.ResponseWriter) {
	type bucket struct {
		Name         string
		CreationDate string
	}
	e.s3.mu.Lock()
	var list []bucket
	for name, b := range e.s3.buckets {
		list = append(list, bucket{name, b.created.Format(s3TimeFormat)})
	}
	e.s3.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	writeXML(w, http.StatusOK, struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		NS      string   `xml:"xmlns,attr"`
		Owner   s3Owner
		Buckets []bucket `xml:"Buckets>Bucket"`
	}{NS: s3XMLNS, Owner: s3TheOwner, Buckets: list})
}

type s3Owner struct{ ID, DisplayName string }

var s3TheOwner = s3Owner{ID: strings.Repeat("7e1567", 10) + "0002", DisplayName: fakeLogin}

type s3Content struct {
	Key          string
	LastModified string
	ETag         string
	Size         int
	StorageClass string
	Owner        *s3Owner `xml:",omitempty"`
}

// s3List answers ListObjectsV2 (list-type=2) and ListObjects (v1): keys in
// order, grouped under CommonPrefixes by the delimiter, in pages of at
// most max-keys.
func (e *Emulator) s3List(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) {
	v2 := q.Get("list-type") == "2"
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	maxKeys := s3MaxKeys
	if s := q.Get("max-keys"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeS3Error(w, r, s3Error{http.StatusBadRequest, "InvalidArgument", "Provided max-keys not an integer or within integer range"})
			return
		}
		maxKeys = min(n, s3MaxKeys)
	}
	after := q.Get("marker")
	if v2 {
		after = q.Get("start-after")
		if tok := q.Get("continuation-token"); tok != "" {
			k, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil {
				writeS3Error(w, r, s3Error{http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect"})
				return
			}
			after = string(k)
		}
	}
	encode := func(s string) string { return s }
	if q.Get("encoding-type") == "url" {
		encode = url.QueryEscape
	}
	var (
		contents  []s3Content
		prefixes  []string
		truncated bool
		last      string
	)
	if !e.s3WithBucket(w, r, bucket, func(b *s3Bucket) {
		keys := make([]string, 0, len(b.objects))
		for k := range b.objects {
			if strings.HasPrefix(k, prefix) && k > after {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if delim != "" {
				if i := strings.Index(k[len(prefix):], delim); i >= 0 {
					p := k[:len(prefix)+i+len(delim)]
					if len(prefixes) > 0 && prefixes[len(prefixes)-1] == p {
						last = k
						continue
					}
					if len(contents)+len(prefixes) == maxKeys {
						truncated = true
						break
					}
					prefixes, last = append(prefixes, p), k
					continue
				}
			}
			if len(contents)+len(prefixes) == maxKeys {
				truncated = true
				break
			}
			o := b.objects[k]
			c := s3Content{Key: encode(k), LastModified: o.modified.Format(s3TimeFormat), ETag: o.etag, Size: int(o.data.Size()), StorageClass: "STANDARD"}
			if !v2 {
				c.Owner = &s3TheOwner
			}
			contents, last = append(contents, c), k
		}
	}) {
		return
	}
	type commonPrefix struct{ Prefix string }
	res := struct {
		XMLName               xml.Name `xml:"ListBucketResult"`
		NS                    string   `xml:"xmlns,attr"`
		Name                  string
		Prefix                string
		Marker                *string `xml:",omitempty"`
		NextMarker            string  `xml:",omitempty"`
		StartAfter            string  `xml:",omitempty"`
		ContinuationToken     string  `xml:",omitempty"`
		NextContinuationToken string  `xml:",omitempty"`
		KeyCount              *int    `xml:",omitempty"`
		MaxKeys               int
		Delimiter             string `xml:",omitempty"`
		EncodingType          string `xml:",omitempty"`
		IsTruncated           bool
		Contents              []s3Content
		CommonPrefixes        []commonPrefix
	}{NS: s3XMLNS, Name: bucket, Prefix: encode(prefix), MaxKeys: maxKeys, Delimiter: encode(delim),
		EncodingType: q.Get("encoding-type"), IsTruncated: truncated, Contents: contents}
	for _, p := range prefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{encode(p)})
	}
	if v2 {
		n := len(contents) + len(prefixes)
		res.KeyCount, res.StartAfter, res.ContinuationToken = &n, encode(q.Get("start-after")), q.Get("continuation-token")
		if truncated {
			res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
		}
	} else {
		m := encode(q.Get("marker"))
		res.Marker = &m
		if truncated && delim != "" {
			res.NextMarker = encode(last)
		}
	}
	noteText(r, "listed %d key(s) of bucket %s", len(contents)+len(prefixes), bucket)
	writeXML(w, http.StatusOK, res)
}

// s3NewObject is an object of data with the content type and metadata of
// r's headers.
func s3NewObject(r *http.Request, data payload) *s3Object {
	o := &s3Object{data: data, contentType: r.Header.Get("Content-Type"), meta: http.Header{}, modified: time.Now().UTC()}
	for k, v := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-meta-") {
			o.meta[k] = v
		}
	}
	if o.contentType == "" {
		o.contentType = "binary/octet-stream"
	}
	o.etag = `"` + hex.EncodeToString(sumOf(data, md5.New())) + `"`
	return o
}

func (e *Emulator) s3PutObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	o, ok := e.s3Stored(w, r)
	if !ok {
		return
	}
	if !e.s3WithBucket(w, r, bucket, func(b *s3Bucket) { b.objects[key] = o }) {
		return
	}
	noteFiles(r, uploaded(key, o.data)...)
	noteText(r, "object s3://%s/%s stored", bucket, key)
	w.Header().Set("ETag", o.etag)
	w.WriteHeader(http.StatusOK)
}

func (e *Emulator) s3GetObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	var o *s3Object
	if !e.s3WithBucket(w, r, bucket, func(b *s3Bucket) { o = b.objects[key] }) {
		return
	}
	if o == nil {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		writeS3Error(w, r, errNoSuchKey)
		return
	}
	h := w.Header()
	for k, v := range o.meta {
		h[k] = v
	}
	h.Set("ETag", o.etag)
	h.Set("Content-Type", o.contentType)
	h.Set("Accept-Ranges", "bytes")
	// ServeContent answers Range and the conditional headers as S3 does.
	http.ServeContent(w, r, "", o.modified, payloadReader(o.data))
}

func (e *Emulator) s3CreateMultipart(w http.ResponseWriter, r *http.Request, bucket, key string) {
	if _, ok := e.s3Payload(w, r); !ok {
		return
	}
	id := base64.RawURLEncoding.EncodeToString([]byte(s3RequestID() + s3RequestID()))
	up := &s3Upload{bucket: bucket, key: key, object: *s3NewObject(r, payloadOf(nil)), parts: map[int]*s3Object{}}
	if !e.s3WithBucket(w, r, bucket, func(*s3Bucket) {
		if e.s3.uploads == nil {
			e.s3.uploads = map[string]*s3Upload{}
		}
		e.s3.uploads[id] = up
	}) {
		return
	}
	noteText(r, "multipart upload of s3://%s/%s begun", bucket, key)
	writeXML(w, http.StatusOK, struct {
		XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
		NS       string   `xml:"xmlns,attr"`
		Bucket   string
		Key      string
		UploadID string `xml:"UploadId"`
	}{NS: s3XMLNS, Bucket: bucket, Key: key, UploadID: id})
}

func (e *Emulator) s3UploadPart(w http.ResponseWriter, r *http.Request, id, number string) {
	n, err := strconv.Atoi(number)
	if err != nil || n < 1 || n > 10000 {
		writeS3Error(w, r, s3Error{http.StatusBadRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive"})
		return
	}
	part, ok := e.s3Stored(w, r)
	if !ok {
		return
	}
	e.s3.mu.Lock()
	up := e.s3.uploads[id]
	if up != nil {
		up.parts[n] = part
	}
	e.s3.mu.Unlock()
	if up == nil {
		writeS3Error(w, r, errNoSuchUpload)
		return
	}
	noteText(r, "part %d of s3://%s/%s: %d bytes, sha256 %s", n, up.bucket, up.key, part.data.Size(), part.data.SHA256())
	w.Header().Set("ETag", part.etag)
	w.WriteHeader(http.StatusOK)
}

func (e *Emulator) s3CompleteMultipart(w http.ResponseWriter, r *http.Request, bucket, key, id string) {
	body, ok := e.s3Payload(w, r)
	if !ok {
		return
	}
	var req struct {
		Parts []struct {
			PartNumber int
			ETag       string
		} `xml:"Part"`
	}
	if err := xml.NewDecoder(io.LimitReader(payloadReader(body), maxSmallBody)).Decode(&req); err != nil || len(req.Parts) == 0 {
		writeS3Error(w, r, s3Error{http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema"})
		return
	}
	for i := 1; i < len(req.Parts); i++ {
		if req.Parts[i].PartNumber <= req.Parts[i-1].PartNumber {
			writeS3Error(w, r, s3Error{http.StatusBadRequest, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number."})
			return
		}
	}
	invalidPart := s3Error{http.StatusBadRequest, "InvalidPart", "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."}
	e.s3.mu.Lock()
	up := e.s3.uploads[id]
	var fail *s3Error
	var parts []payload
	var sums []byte
	for i, p := range req.Parts {
		if up == nil || up.bucket != bucket || up.key != key {
			fail = &errNoSuchUpload
			break
		}
		part := up.parts[p.PartNumber]
		switch {
		case part == nil || strings.Trim(p.ETag, `"`) != strings.Trim(part.etag, `"`):
			fail = &invalidPart
		case i < len(req.Parts)-1 && part.data.Size() < s3MinPartSize:
			fail = &s3Error{http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size."}
		}
		if fail != nil {
			break
		}
		parts = append(parts, part.data)
		sum, _ := hex.DecodeString(strings.Trim(part.etag, `"`))
		sums = append(sums, sum...)
	}
	var b *s3Bucket
	if fail == nil {
		if b = e.s3.buckets[bucket]; b == nil {
			fail = &errNoSuchBucket
		}
	}
	var o s3Object
	if fail == nil {
		o = up.object
		sum := md5.Sum(sums)
		o.etag = fmt.Sprintf(`"%x-%d"`, sum, len(req.Parts))
		delete(e.s3.uploads, id)
	}
	e.s3.mu.Unlock()
	if fail != nil {
		writeS3Error(w, r, *fail)
		return
	}
	// The parts are joined into one file outside the store's lock; they
	// go once it is whole.
	data, err := e.joinPayloads(r, parts)
	if err != nil {
		writeS3Error(w, r, s3Error{http.StatusInternalServerError, "InternalError", err.Error()})
		return
	}
	o.data, o.modified = data, time.Now().UTC()
	e.s3.mu.Lock()
	b.objects[key] = &o
	e.s3.mu.Unlock()
	noteFiles(r, uploaded(key, o.data)...)
	noteText(r, "object s3://%s/%s stored from %d part(s)", bucket, key, len(req.Parts))
	writeXML(w, http.StatusOK, struct {
		XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
		NS       string   `xml:"xmlns,attr"`
		Location string
		Bucket   string
		Key      string
		ETag     string
	}{NS: s3XMLNS, Location: "https://" + bucket + ".s3.amazonaws.com/" + key, Bucket: bucket, Key: key, ETag: o.etag})
}

// s3Stored takes a checked body past the request's end: an object or a
// part of one, kept until the mock closes.
func (e *Emulator) s3Stored(w http.ResponseWriter, r *http.Request) (*s3Object, bool) {
	data, ok := e.s3Payload(w, r)
	if !ok {
		return nil, false
	}
	if err := keep(r, data); err != nil {
		writeS3Error(w, r, s3Error{http.StatusInternalServerError, "InternalError", err.Error()})
		return nil, false
	}
	return s3NewObject(r, data), true
}

// s3Payload spools the body and checks it as S3 does: aws-chunked framing
// is removed, and the declared sha256, Content-MD5 and checksums must
// match the bytes. A failed check is answered and returns false.
func (e *Emulator) s3Payload(w http.ResponseWriter, r *http.Request) (payload, bool) {
	body, _, ok := e.s3CheckedPayload(w, r)
	return body, ok
}

// s3CheckedPayload is s3Payload that also counts the integrity values
// (Content-MD5, x-amz-checksum-*) it checked the bytes against.
func (e *Emulator) s3CheckedPayload(w http.ResponseWriter, r *http.Request) (body payload, checked int, ok bool) {
	fail := func(code int, msg string) { writeS3Error(w, r, s3Error{code, "IncompleteBody", msg}) }
	body, err := e.rawBody(r)
	if err != nil {
		bodyFailed(w, r, err, fail)
		return nil, 0, false
	}
	declared := r.Header.Get("x-amz-content-sha256")
	if strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") && declared == "" {
		writeS3Error(w, r, s3Error{http.StatusBadRequest, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"})
		return nil, 0, false
	}
	trailers := http.Header{}
	if strings.HasPrefix(declared, "STREAMING-") {
		decoded := e.newSpool(r)
		if err := decodeAWSChunked(bufio.NewReader(payloadReader(body)), decoded, trailers); err != nil {
			if errors.Is(err, errSpool) {
				bodyFailed(w, r, err, fail)
			} else {
				fail(http.StatusBadRequest, "aws-chunked body: "+err.Error())
			}
			return nil, 0, false
		}
		body = decoded.finish()
		if n := r.Header.Get("x-amz-decoded-content-length"); n != strconv.FormatInt(body.Size(), 10) {
			fail(http.StatusBadRequest, fmt.Sprintf("x-amz-decoded-content-length %q, but %d bytes were sent", n, body.Size()))
			return nil, 0, false
		}
	} else if declared != "" && declared != "UNSIGNED-PAYLOAD" {
		if !strings.EqualFold(declared, body.SHA256()) {
			writeS3Error(w, r, s3Error{http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."})
			return nil, 0, false
		}
	}
	if m := r.Header.Get("Content-MD5"); m != "" {
		checked++
		if m != base64.StdEncoding.EncodeToString(sumOf(body, md5.New())) {
			writeS3Error(w, r, s3Error{http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received."})
			return nil, 0, false
		}
	}
	for name, newHash := range map[string]func() hash.Hash{
		"x-amz-checksum-sha256": sha256.New,
		"x-amz-checksum-crc32":  func() hash.Hash { return crc32.NewIEEE() },
		"x-amz-checksum-crc32c": func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
		"x-amz-checksum-sha1":   sha1.New,
		// CRC-64/NVME; Go takes the polynomial reflected.
		"x-amz-checksum-crc64nvme": func() hash.Hash { return crc64.New(crc64.MakeTable(0x9a6c9329ac4bc9b5)) },
	} {
		want := firstNonEmptyString(r.Header.Get(name), trailers.Get(name))
		if want == "" {
			continue
		}
		checked++
		if got := base64.StdEncoding.EncodeToString(sumOf(body, newHash())); got != want {
			writeS3Error(w, r, s3Error{http.StatusBadRequest, "BadDigest", "The " + strings.TrimPrefix(name, "x-amz-checksum-") + " you specified did not match the calculated checksum."})
			return nil, 0, false
		}
	}
	return body, checked, true
}

// sumOf is h's sum of p's bytes (read from memory or the spool's file).
func sumOf(p payload, h hash.Hash) []byte {
	_, _ = io.Copy(h, payloadReader(p))
	return h.Sum(nil)
}

// decodeAWSChunked copies the data of an aws-chunked body (SigV4
// streaming uploads) from src to dst as it reads it: chunks of
// "<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n", a last chunk of size
// 0, then trailing headers, which go into trailers.
func decodeAWSChunked(src *bufio.Reader, dst io.Writer, trailers http.Header) error {
	for {
		line, err := src.ReadString('\n')
		if err != nil || !strings.HasSuffix(line, "\r\n") {
			return fmt.Errorf("chunk header without CRLF")
		}
		sizeHex, _, _ := strings.Cut(strings.TrimSuffix(line, "\r\n"), ";")
		size, err := strconv.ParseUint(strings.TrimSpace(sizeHex), 16, 31)
		if err != nil {
			return fmt.Errorf("chunk size %q: %w", sizeHex, err)
		}
		if size == 0 {
			break
		}
		if n, err := io.CopyN(dst, src, int64(size)); err != nil {
			if errors.Is(err, errSpool) {
				return err
			}
			return fmt.Errorf("chunk of %d bytes is cut short at %d", size, n)
		}
		if crlf, err := src.Peek(2); err != nil || string(crlf) != "\r\n" {
			return fmt.Errorf("chunk of %d bytes is cut short", size)
		}
		_, _ = src.Discard(2)
	}
	for {
		line, err := src.ReadString('\n')
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return fmt.Errorf("trailer %q", line)
			}
			trailers.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		if err != nil {
			return nil
		}
	}
}

func writeS3Error(w http.ResponseWriter, r *http.Request, e s3Error) {
	if r.Method == http.MethodHead {
		w.WriteHeader(e.status)
		return
	}
	writeXML(w, e.status, struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		Resource  string
		RequestID string `xml:"RequestId"`
	}{Code: e.Code, Message: e.Message, Resource: r.URL.Path, RequestID: w.Header().Get("x-amz-request-id")})
}

func writeXML(w http.ResponseWriter, code int, v any) {
	out, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(code)
	_, _ = w.Write(append([]byte(xml.Header), out...))
}

// s3RequestID is a request id like S3's: 16 upper-case hex digits.
func s3RequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}
