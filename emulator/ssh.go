package emulator

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHServer serves git over SSH (git@host:owner/repo.git) for one code
// repository host, into the same bare repositories as smart-HTTP: a host key
// made for the run, any client key accepted (GitHub decides by key; the mock
// has no accounts), and git-upload-pack / git-receive-pack run by the real
// git. What a push landed is read back from the repository and recorded in
// the ledger like an HTTP push.
type SSHServer struct {
	e    *Emulator
	host string
	key  ssh.Signer
}

// NewSSHServer makes an SSH server standing for host (github.com, say)
// with a fresh ed25519 host key.
func (e *Emulator) NewSSHServer(host string) (*SSHServer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ssh host key: %w", err)
	}
	key, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("ssh host key: %w", err)
	}
	return e.NewSSHServerWithKey(host, key)
}

// NewSSHServerWithKey makes an SSH server standing for host with the host
// key key: one made outside the emulator's process, so that the clients'
// known_hosts can name it before the server starts (container mode).
func (e *Emulator) NewSSHServerWithKey(host string, key ssh.Signer) (*SSHServer, error) {
	if !IsServedHost(host) {
		return nil, fmt.Errorf("ssh: %s is not a host the emulator serves", host)
	}
	if key == nil {
		return nil, errors.New("ssh: no host key")
	}
	return &SSHServer{e: e, host: host, key: key}, nil
}

// KnownHostsLine is the known_hosts line naming the server's host key under
// names (default: its host), for a client's known_hosts file.
func (s *SSHServer) KnownHostsLine(names ...string) string {
	if len(names) == 0 {
		names = []string{s.host}
	}
	return knownhosts.Line(names, s.key.PublicKey())
}

// Serve accepts SSH connections on l until ctx ends or l is closed.
func (s *SSHServer) Serve(ctx context.Context, l net.Listener) error {
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			return &ssh.Permissions{Extensions: map[string]string{"key": ssh.FingerprintSHA256(key)}}, nil
		},
		ServerVersion: "SSH-2.0-babeld-t1567",
	}
	cfg.AddHostKey(s.key)
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("ssh accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, conn, cfg)
		}()
	}
}

func (s *SSHServer) serveConn(ctx context.Context, conn net.Conn, cfg *ssh.ServerConfig) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		s.session(ctx, sc, ch, creqs)
	}
}

// session answers one session: env requests are accepted (git sends
// GIT_PROTOCOL), the first exec runs git; a shell is refused as GitHub does.
func (s *SSHServer) session(ctx context.Context, sc *ssh.ServerConn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var env []string
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &kv) == nil && kv.Name == "GIT_PROTOCOL" {
				env = append(env, kv.Name+"="+kv.Value)
			}
			_ = req.Reply(true, nil)
		case "exec":
			var cmd struct{ Command string }
			if ssh.Unmarshal(req.Payload, &cmd) != nil {
				_ = req.Reply(false, nil)
				return
			}
			_ = req.Reply(true, nil)
			code := s.exec(ctx, sc, ch, cmd.Command, env)
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
			return
		case "shell":
			_ = req.Reply(true, nil)
			fmt.Fprintf(ch.Stderr(), "Hi %s! You've successfully authenticated, but GitHub does not provide shell access.\r\n", fakeLogin)
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{1}))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// exec runs git-upload-pack or git-receive-pack on the repository the
// command names and records it; it returns the exit status.
func (s *SSHServer) exec(ctx context.Context, sc *ssh.ServerConn, ch ssh.Channel, command string, env []string) int {
	s.e.track(1)
	defer s.e.track(-1)
	entry := Entry{Time: time.Now().UTC(), Host: s.host, Method: "SSH", Path: command, AuthScheme: "publickey", UserAgent: string(sc.ClientVersion()), Origin: originOf(ctx)}
	entry.ClientIP, entry.ClientPort = splitAddr(sc.RemoteAddr().String())
	_, entry.ServerPort = splitAddr(sc.LocalAddr().String())
	defer func() { s.e.ledger.Add(entry) }()

	service, arg, _ := strings.Cut(command, " ")
	path := strings.Trim(strings.TrimSpace(arg), `'"`)
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	dir, ok := "", len(parts) == 2
	if ok {
		dir, ok = s.e.git.repoDir(s.host, parts...)
	}
	if (service != "git-upload-pack" && service != "git-receive-pack") || !ok {
		fmt.Fprintf(ch.Stderr(), "ERROR: Repository not found.\n")
		entry.Status, entry.Note = 404, "not a git command on a repository"
		return 1
	}
	g := s.e.git
	if err := g.ensureRepo(ctx, dir); err != nil {
		entry.Status, entry.Note = 500, err.Error()
		return 1
	}
	push := service == "git-receive-pack"
	var before map[string]string
	if push {
		lock := g.repoLock(dir)
		lock.Lock()
		defer lock.Unlock()
		before, _ = g.refs(ctx, dir)
	}
	cmd := exec.CommandContext(ctx, g.git, strings.TrimPrefix(service, "git-"), dir)
	cmd.Env = append([]string{"GIT_CONFIG_NOSYSTEM=1", "HOME=" + g.root}, env...)
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	// The client may keep its side open until it has the exit status, so
	// the copy into git is not waited for: it ends when the channel does.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		entry.Status, entry.Note = 500, err.Error()
		return 1
	}
	var received atomic.Int64
	go func() {
		_, _ = io.Copy(countingWriter{stdin, &received}, ch)
		stdin.Close()
	}()
	err = cmd.Run()
	entry.BytesReceived = received.Load()
	code := 0
	if err != nil {
		code = 1
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		}
	}
	entry.Status = 200
	if code != 0 {
		entry.Status = 500
	}
	if push {
		entry.Files, entry.Note = g.pushed(context.WithoutCancel(ctx), dir, before)
	}
	return code
}

// countingWriter counts what passes into w as it goes.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
