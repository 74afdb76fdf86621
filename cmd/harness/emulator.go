package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/reports"
	"github.com/t1567001/harness/sandbox"
)

// writeInflight records how many requests are being handled in
// ledger+".inflight", replacing it whole, so a reader outside the
// container knows when the ledger has settled.
func writeInflight(ledger string, n int64) {
	tmp := ledger + ".inflight.tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(n, 10)), 0o644); err == nil {
		_ = os.Rename(tmp, ledger+".inflight")
	}
}

// whenBusyChanges passes on a count of requests in flight only when it
// goes from zero or to zero: the reader of the file only asks whether
// anything is in flight, and a flood would otherwise rewrite it twice a
// request. Calls must come one at a time, in order (as OnInflight's do).
func whenBusyChanges(write func(int64)) func(int64) {
	busy := false
	return func(n int64) {
		if (n > 0) != busy {
			busy = n > 0
			write(n)
		}
	}
}

// emulatorCA is the CA given with --ca-cert/--ca-key, or a fresh one written
// to dir for clients to trust.
func emulatorCA(dir, certFile, keyFile string) (*emulator.CA, string, error) {
	if certFile == "" && keyFile == "" {
		ca, err := emulator.NewCA(uuid.NewString())
		if err != nil {
			return nil, "", err
		}
		caFile := filepath.Join(dir, "ca.pem")
		return ca, caFile, os.WriteFile(caFile, ca.PEM(), 0o644)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, "", badInput(fmt.Errorf("--ca-cert: %w", err))
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, "", badInput(fmt.Errorf("--ca-key: %w", err))
	}
	ca, err := emulator.LoadCA(certPEM, keyPEM)
	if err != nil {
		return nil, "", badInput(fmt.Errorf("%s, %s: %w", certFile, keyFile, err))
	}
	return ca, certFile, nil
}

func newEmulatorCmd() *cobra.Command {
	var listen, tlsListen, httpListen, dnsListen, dnsAnswer, dataDir, caCert, caKey, ledgerFile, origin, sshHostKey string
	var sshListen []string
	var hold bool
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Run the mock GitHub standalone (a CONNECT proxy on --listen)",
		Long: "Runs the mock GitHub and prints each request as the ledger records it.\n" +
			"Point a client at it with the environment lines it prints, for example:\n" +
			"  curl -X POST https://api.github.com/gists -H 'Authorization: token x' -d '{\"files\":{\"a\":{\"content\":\"b\"}}}'",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sshHostKey != "" && len(sshListen) == 0 {
				return badInput(errors.New("--ssh-host-key needs --ssh-listen"))
			}
			// Every entry of the listeners' clients carries the origin: the
			// harness merges several emulators' ledgers, one per lane.
			ctx := emulator.WithOrigin(cmd.Context(), origin)
			tmp, err := os.MkdirTemp("", "t1567-emulator-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			if dataDir == "" {
				dataDir = filepath.Join(tmp, "repos")
				if err := os.Mkdir(dataDir, 0o755); err != nil {
					return err
				}
			}
			ca, caFile, err := emulatorCA(tmp, caCert, caKey)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var ledger *json.Encoder
			var onInflight func(int64)
			if ledgerFile != "" {
				onInflight = whenBusyChanges(func(n int64) { writeInflight(ledgerFile, n) })
				f, err := os.OpenFile(ledgerFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
				if err != nil {
					return badInput(fmt.Errorf("--ledger: %w", err))
				}
				defer f.Close()
				ledger = json.NewEncoder(f)
			}
			var addresses map[string][]netip.Addr
			if dnsListen != "" {
				if addresses, err = sinkholeAnswers(dnsAnswer); err != nil {
					return badInput(fmt.Errorf("--dns-answer: %w", err))
				}
			}
			if hold {
				// Before any listener, so that a client that sees the
				// emulator ready finds the addresses there.
				table, err := sandbox.DefaultTable()
				if err != nil {
					return err
				}
				if err := sandbox.HoldAddrs(table); err != nil {
					return fmt.Errorf("--hold-addresses: %w", err)
				}
			}
			emu, err := emulator.New(emulator.Config{
				DataDir:    dataDir,
				Addresses:  addresses,
				OnInflight: onInflight,
				OnEntry: func(e emulator.Entry) {
					if e.Kind == emulator.KindTLS {
						fmt.Fprintf(out, "%s %s:%d TLS %s (%s) closed: %d bytes in, %d out\n",
							e.End.Format("15:04:05.000"), e.ClientIP, e.ClientPort, e.SNI, e.TLSVersion, e.RequestBytes, e.ResponseBytes)
					} else if e.Kind == emulator.KindDNS {
						fmt.Fprintf(out, "%s %s:%d DNS %s %s -> %s %v\n",
							e.Time.Format("15:04:05.000"), e.ClientIP, e.ClientPort, e.DNS.Type, e.DNS.Name, e.DNS.Rcode, e.DNS.Answers)
					} else {
						fmt.Fprintf(out, "%s %s:%d %s %s -> %d (%d bytes, %d files) %s\n",
							e.Time.Format("15:04:05.000"), e.ClientIP, e.ClientPort, e.Method,
							reports.Request{Method: e.Method, Host: e.Host, Path: e.Path}.Target(),
							e.Status, e.BytesReceived, len(e.Files), e.Note)
					}
					if ledger != nil {
						// One line per entry, written as it happens: the
						// harness reads the file from outside the container.
						_ = ledger.Encode(e)
					}
				},
			}, ca)
			if err != nil {
				return err
			}
			defer emu.Close()

			errc := make(chan error, 2)
			serve := func(addr string, fn func(context.Context, net.Listener) error) error {
				l, err := net.Listen("tcp", addr)
				if err != nil {
					return badInput(fmt.Errorf("listen %s: %w", addr, err))
				}
				go func() { errc <- fn(ctx, l) }()
				return nil
			}
			n := 0
			if listen != "" {
				if err := serve(listen, emu.ServeProxy); err != nil {
					return err
				}
				n++
				fmt.Fprintf(out, "CONNECT proxy on %s; in another shell:\n  export HTTPS_PROXY=http://%s SSL_CERT_FILE=%s CURL_CA_BUNDLE=%s GIT_SSL_CAINFO=%s\n",
					listen, listen, caFile, caFile, caFile)
			}
			if tlsListen != "" {
				if err := serve(tlsListen, emu.ServeTLS); err != nil {
					return err
				}
				n++
				fmt.Fprintf(out, "TLS on %s for %v (CA %s)\n", tlsListen, emulator.ServedHosts(), caFile)
			}
			if httpListen != "" {
				if err := serve(httpListen, emu.ServeHTTP); err != nil {
					return err
				}
				n++
				fmt.Fprintf(out, "HTTP on %s\n", httpListen)
			}
			if len(sshListen) > 0 {
				srv, err := sshServer(emu, sshHostKey)
				if err != nil {
					return err
				}
				for _, addr := range sshListen {
					if err := serve(addr, srv.Serve); err != nil {
						return err
					}
					n++
				}
				fmt.Fprintf(out, "SSH (git) for %s on %s; known_hosts line:\n  %s\n", sshHost, strings.Join(sshListen, ", "), srv.KnownHostsLine())
			}
			// Last: the harness waits for this line, so every listener is up
			// by then.
			if dnsListen != "" {
				pc, err := net.ListenPacket("udp", dnsListen)
				if err != nil {
					return badInput(fmt.Errorf("listen %s: %w", dnsListen, err))
				}
				l, err := net.Listen("tcp", dnsListen)
				if err != nil {
					pc.Close()
					return badInput(fmt.Errorf("listen %s: %w", dnsListen, err))
				}
				go func() { errc <- emu.ServeDNS(ctx, pc, l) }()
				n++
				fmt.Fprintf(out, "DNS sinkhole on %s (served names -> %s, NXDOMAIN for the rest)\n", dnsListen, dnsAnswer)
			}
			if n == 0 {
				return badInput(errors.New("give --listen, --tls-listen, --http-listen, --ssh-listen or --dns-listen"))
			}
			for range n {
				if err := <-errc; err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8443", "address of the CONNECT proxy")
	f.StringVar(&tlsListen, "tls-listen", "", "also serve the emulated hosts directly over TLS here (SNI picks the host)")
	f.StringVar(&httpListen, "http-listen", "", "also serve the emulated hosts over plain HTTP here (Host picks the host)")
	f.StringVar(&dnsListen, "dns-listen", "", "run the DNS sinkhole here (UDP and TCP): served names resolve to --dns-answer, every other name is NXDOMAIN")
	f.StringVar(&dnsAnswer, "dns-answer", "self", "the address the sinkhole answers for served names; self: this machine's (container's) first non-loopback IPv4 address; table: each host's addresses of the real service (sandbox/addresses.yaml)")
	f.StringSliceVar(&sshListen, "ssh-listen", nil, "also serve git over SSH as "+sshHost+" here (ADDR, repeated or comma-separated: for example its held addresses, port 22)")
	f.StringVar(&sshHostKey, "ssh-host-key", "", "the SSH server's host key (an OpenSSH private key file) instead of a fresh one, so clients can be told it beforehand")
	f.BoolVar(&hold, "hold-addresses", false, "hold the served hosts' addresses of sandbox/addresses.yaml on this machine's loopback interface (needs CAP_NET_ADMIN), so that clients routed here by address reach the listeners")
	f.StringVar(&dataDir, "data", "", "folder for the bare repositories (default: a temporary one)")
	f.StringVar(&caCert, "ca-cert", "", "serve with this CA certificate (PEM) instead of a fresh one; needs --ca-key")
	f.StringVar(&caKey, "ca-key", "", "the CA's private key (PEM)")
	f.StringVar(&origin, "origin", "", "mark every ledger entry with this origin (where the clients are, e.g. \"lane 1\")")
	f.StringVar(&ledgerFile, "ledger", "", "also append every ledger entry to this file as JSON lines (and keep FILE.inflight, the requests being handled)")
	return cmd
}

// sshHost is the host the emulator's SSH server stands for, as in the
// local sandbox: git@github.com: is the git-over-SSH form of the atomics.
const sshHost = "github.com"

// sshServer is the emulator's SSH server for sshHost, with the host key of
// keyFile, or a fresh one when it is empty.
func sshServer(emu *emulator.Emulator, keyFile string) (*emulator.SSHServer, error) {
	if keyFile == "" {
		return emu.NewSSHServer(sshHost)
	}
	pemBytes, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, badInput(fmt.Errorf("--ssh-host-key: %w", err))
	}
	key, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, badInput(fmt.Errorf("--ssh-host-key %s: %w", keyFile, err))
	}
	return emu.NewSSHServerWithKey(sshHost, key)
}

// sinkholeAnswers maps every served host to answer ("self": this
// machine's first non-loopback IPv4 address, as in a container whose only
// interface is the run's network; "table": the host's own addresses of the
// sandbox table).
func sinkholeAnswers(answer string) (map[string][]netip.Addr, error) {
	var addr netip.Addr
	if answer == "table" {
		table, err := sandbox.DefaultTable()
		if err != nil {
			return nil, err
		}
		return table.Hosts, nil
	}
	if answer == "self" {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP.To4()); ok && !ip.IsLoopback() {
					addr = ip
					break
				}
			}
		}
		if !addr.IsValid() {
			return nil, errors.New("self: no non-loopback IPv4 address here")
		}
	} else {
		var err error
		if addr, err = netip.ParseAddr(answer); err != nil {
			return nil, err
		}
	}
	m := map[string][]netip.Addr{}
	for _, h := range append(emulator.ServedHosts(), emulator.ServedWildcards()...) {
		m[h] = []netip.Addr{addr}
	}
	return m, nil
}
