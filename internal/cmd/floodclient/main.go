// Command floodclient sends the mock's upload flood (package flood) as a
// process of its own, as an atomic's client would: names resolved by the
// system's resolver, the certificate checked against the system's store
// (or SSL_CERT_FILE), no proxy, a new connection per upload. It prints
// the flood's Result as one JSON document on stdout.
//
//	floodclient -n 1000 -tag round1 [-connect 127.0.0.1:8443]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/t1567001/harness/internal/flood"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("floodclient", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 1000, "concurrent uploads")
	tag := fs.String("tag", "flood", "prefix of the uploaded files' names")
	base := fs.String("base", "https://api.github.com", "API base URL")
	connect := fs.String("connect", "", "dial this host:port whatever the URL's host (a stand-in for the served address outside the sandbox)")
	timeout := fs.Duration("timeout", 2*time.Minute, "bound on the whole flood")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *n <= 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "floodclient: want -n > 0 and no arguments")
		return 2
	}
	tr := &http.Transport{DisableKeepAlives: true}
	if *connect != "" {
		addr := *connect
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res := flood.Run(ctx, &http.Client{Transport: tr}, *base, *tag, *n)
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		fmt.Fprintf(stderr, "floodclient: %v\n", err)
		return 1
	}
	return 0
}
