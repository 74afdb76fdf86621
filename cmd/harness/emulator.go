package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/t1567001/harness/emulator"
)

var (
	errReplayFailed = errors.New("replay-http: the request did not succeed")
	errSensorExit   = errors.New("sensor: the traced command did not succeed")
)

func newEmulatorCmd() *cobra.Command {
	var listen, tlsListen, dataDir string
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Run the mock GitHub standalone (a CONNECT proxy on --listen)",
		Long: "Runs the mock GitHub and prints each request as the ledger records it.\n" +
			"Point a client at it with the environment lines it prints, for example:\n" +
			"  curl -X POST https://api.github.com/gists -H 'Authorization: token x' -d '{\"files\":{\"a\":{\"content\":\"b\"}}}'",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
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
			ca, err := emulator.NewCA(uuid.NewString())
			if err != nil {
				return err
			}
			caFile := filepath.Join(tmp, "ca.pem")
			if err := os.WriteFile(caFile, ca.PEM(), 0o644); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			emu, err := emulator.New(emulator.Config{
				DataDir: dataDir,
				OnEntry: func(e emulator.Entry) {
					fmt.Fprintf(out, "%s %s:%d %s %s%s -> %d (%d bytes, %d files) %s\n",
						e.Time.Format("15:04:05.000"), e.ClientIP, e.ClientPort, e.Method, e.Host, e.Path,
						e.Status, e.BytesReceived, len(e.Files), e.Note)
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
			if n == 0 {
				return badInput(errors.New("give --listen, --tls-listen or both"))
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
	f.StringVar(&dataDir, "data", "", "folder for the bare repositories (default: a temporary one)")
	return cmd
}
