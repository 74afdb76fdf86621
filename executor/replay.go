package executor

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Replay is the `replay-http` child process that stands in for a missing
// tool: it sends one HTTP request, built from its flags, through the proxy
// in the environment and trusting the CA in SSL_CERT_FILE, exactly as the
// real tool would have, and prints the response. Exit status: 0 for a 2xx
// answer, 1 for any other answer, 2 for bad flags.
func Replay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("replay-http", flag.ContinueOnError)
	fl.SetOutput(stderr)
	method := fl.String("method", "GET", "HTTP method")
	url := fl.String("url", "", "request URL")
	var headers, fields, fileFields multiFlag
	fl.Var(&headers, "header", `request header "Name: value" (repeatable)`)
	fl.Var(&fields, "json", "JSON body field key=value (repeatable, kept in order)")
	fl.Var(&fileFields, "json-base64-file", "JSON body field key=path: the file's content in base64 (repeatable)")
	timeout := fl.Duration("timeout", time.Minute, "request timeout")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *url == "" {
		fmt.Fprintln(stderr, "replay-http: --url is required")
		return 2
	}
	body, err := jsonBody(fields, fileFields)
	if err != nil {
		fmt.Fprintln(stderr, "replay-http:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, *method, *url, rd)
	if err != nil {
		fmt.Fprintln(stderr, "replay-http:", err)
		return 2
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			fmt.Fprintf(stderr, "replay-http: header %q is not \"Name: value\"\n", h)
			return 2
		}
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	// The default transport takes the proxy from HTTPS_PROXY and, on Linux,
	// the trusted roots from SSL_CERT_FILE: the environment the executor set.
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		fmt.Fprintln(stderr, "replay-http:", err)
		return 1
	}
	defer resp.Body.Close()
	fmt.Fprintf(stdout, "%s %s -> %s\n", *method, *url, resp.Status)
	_, _ = io.Copy(stdout, resp.Body)
	if resp.StatusCode/100 != 2 {
		return 1
	}
	return 0
}

// jsonBody builds a JSON object with the fields in the order given, or nil
// when there are none.
func jsonBody(fields, fileFields []string) ([]byte, error) {
	if len(fields) == 0 && len(fileFields) == 0 {
		return nil, nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	add := func(k, v string) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		vj, _ := json.Marshal(v)
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("--json %q is not key=value", f)
		}
		add(k, v)
	}
	for _, f := range fileFields {
		k, path, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("--json-base64-file %q is not key=path", f)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--json-base64-file: %w", err)
		}
		add(k, base64.StdEncoding.EncodeToString(data))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
