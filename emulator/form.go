package emulator

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
)

// Form bodies (multipart and urlencoded), read as they arrive: each part or
// field is spooled like any file of a body (body.go).

// formPart is one part of a multipart/form-data body, its content spooled.
type formPart struct {
	form, file string // the form field's name and the file name, if any
	data       payload
}

// formParts spools the parts of r's multipart body, up to the first it
// cannot read and at most maxFiles; an error is the body's (over the
// limit, or the spool's), not a malformed part's.
func (e *Emulator) formParts(r *http.Request, boundary string) ([]formPart, error) {
	var parts []formPart
	mr := multipart.NewReader(r.Body, boundary)
	for len(parts) < maxFiles {
		part, err := mr.NextPart()
		if err != nil {
			return parts, bodyError(err)
		}
		sp := e.newSpool(r)
		if _, err := io.Copy(sp, part); err != nil {
			return parts, bodyError(err)
		}
		parts = append(parts, formPart{form: part.FormName(), file: part.FileName(), data: sp.finish()})
	}
	return parts, nil
}

// bodyError keeps of err what is the body's fault or the mock's: past
// the limit, or the spool failing.
func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || errors.Is(err, errSpool) {
		return err
	}
	return nil
}

// form is a form body's fields, each spooled: the first of each name.
type form map[string]payload

// get is the named field as text (up to maxField bytes), "" for none.
func (f form) get(name string) string {
	if p, ok := f[name]; ok {
		return readText(p)
	}
	return ""
}

// readForm spools the fields of an urlencoded or multipart form body (the
// files of a multipart one are left out); on failure it answers and is
// false.
func (e *Emulator) readForm(w http.ResponseWriter, r *http.Request) (form, bool) {
	fail := func(code int, msg string) { http.Error(w, "bad form: "+msg, code) }
	fields := form{}
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "multipart/form-data" {
		parts, err := e.formParts(r, params["boundary"])
		if err != nil {
			bodyFailed(w, r, err, fail)
			return nil, false
		}
		for _, p := range parts {
			if _, seen := fields[p.form]; !seen && p.file == "" {
				fields[p.form] = p.data
			}
		}
		return fields, true
	}
	spooled := map[string]*spool{}
	err := urlFields(r.Body, func(name string) (io.Writer, error) {
		if _, seen := spooled[name]; seen {
			return nil, nil
		}
		if len(spooled) == maxFiles {
			return nil, tooManyFiles
		}
		sp := e.newSpool(r)
		spooled[name] = sp
		return sp, nil
	})
	var member *memberError
	switch {
	case errors.As(err, &member):
		noteText(r, "body: %v", err)
		fail(http.StatusBadRequest, member.Error())
		return nil, false
	case err != nil:
		bodyFailed(w, r, err, fail)
		return nil, false
	}
	for name, sp := range spooled {
		fields[name] = sp.finish()
	}
	return fields, true
}

// urlFields reads an application/x-www-form-urlencoded body as it
// arrives, decoding each value into the writer field gives for its name
// (nil drops it). Like url.ParseQuery it refuses a bad escape and ';'.
func urlFields(body io.Reader, field func(name string) (io.Writer, error)) error {
	br := bufio.NewReaderSize(body, 16<<10)
	var name []byte
	var out [4 << 10]byte
	for {
		// The name, up to '=' or the pair's end.
		name = name[:0]
		c, err := br.ReadByte()
		for err == nil && c != '=' && c != '&' {
			if len(name) == maxField {
				return &memberError{path: "form", msg: fmt.Sprintf("field name longer than %d bytes", maxField)}
			}
			name = append(name, c)
			c, err = br.ReadByte()
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if len(name) == 0 && c != '=' {
			if errors.Is(err, io.EOF) {
				return nil
			}
			continue // an empty pair
		}
		if bytes.IndexByte(name, ';') >= 0 {
			return &memberError{path: "form", msg: "invalid semicolon separator"}
		}
		key, uerr := url.QueryUnescape(string(name))
		if uerr != nil {
			return &memberError{path: "form", msg: uerr.Error()}
		}
		dst, ferr := field(key)
		if ferr != nil {
			return ferr
		}
		if errors.Is(err, io.EOF) || c == '&' {
			if errors.Is(err, io.EOF) {
				return nil
			}
			continue
		}
		// The value, decoded as it goes, up to '&' or the end.
		n := 0
		flush := func() error {
			if dst != nil && n > 0 {
				if _, err := dst.Write(out[:n]); err != nil {
					return err
				}
			}
			n = 0
			return nil
		}
		for {
			c, err = br.ReadByte()
			if err != nil || c == '&' {
				break
			}
			switch c {
			case ';':
				return &memberError{path: "form", msg: "invalid semicolon separator"}
			case '+':
				c = ' '
			case '%':
				var hex [2]byte
				if _, err := io.ReadFull(br, hex[:]); err != nil {
					return &memberError{path: "form", msg: "invalid URL escape at the end"}
				}
				v, ok := unhex(hex[0], hex[1])
				if !ok {
					return &memberError{path: "form", msg: fmt.Sprintf("invalid URL escape %%%s", hex[:])}
				}
				c = v
			}
			out[n] = c
			if n++; n == len(out) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if ferr := flush(); ferr != nil {
			return ferr
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func unhex(a, b byte) (byte, bool) {
	v := func(c byte) (byte, bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	hi, ok1 := v(a)
	lo, ok2 := v(b)
	return hi<<4 | lo, ok1 && ok2
}
