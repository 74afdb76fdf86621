package executor

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	mega "github.com/t3rm1n4l/go-mega"
)

// ReplayMega is the `replay-mega` child process that stands in for an
// rclone built without its mega backend (Debian's is): given rclone's own
// arguments, `copy [--max-size SIZE] SRC REMOTE:PATH --config FILE`, it
// logs in to REMOTE of FILE (type mega, user, and pass obscured as rclone
// obscures it) with go-mega, the library rclone's mega backend is made of,
// and puts every regular file of SRC not larger than SIZE under PATH,
// making the folders as it goes, as `rclone copy` does. Exit status: 0
// when every file was copied, 1 on a failure, 2 for bad arguments.
func ReplayMega(ctx context.Context, args []string, stderr io.Writer) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "replay-mega: "+format+"\n", a...)
		return code
	}
	var pos []string
	var conf string
	maxSize := int64(-1)
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--config" || a == "--max-size":
			if i+1 == len(args) {
				return fail(2, "%s needs a value", a)
			}
			i++
			if a == "--config" {
				conf = args[i]
				continue
			}
			n, err := parseRcloneSize(args[i])
			if err != nil {
				return fail(2, "--max-size: %v", err)
			}
			maxSize = n
		case a == "-v" || a == "-vv":
		case strings.HasPrefix(a, "-"):
			return fail(2, "flag %s is not one rclone copy is replayed with", a)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 3 || pos[0] != "copy" || conf == "" {
		return fail(2, "usage: replay-mega copy [--max-size SIZE] SRC REMOTE:PATH --config FILE")
	}
	remote, dest, ok := strings.Cut(pos[2], ":")
	if !ok {
		return fail(2, "%q is not REMOTE:PATH", pos[2])
	}
	user, pass, err := megaRemote(conf, remote)
	if err != nil {
		return fail(2, "%v", err)
	}
	m := mega.New()
	m.SetLogger(nil)
	if err := m.Login(user, pass); err != nil {
		return fail(1, "couldn't login: %v", err)
	}
	dir, err := megaMkdirAll(m, m.FS.GetRoot(), strings.Split(strings.Trim(dest, "/"), "/"))
	if err != nil {
		return fail(1, "making %s: %v", dest, err)
	}
	src := pos[1]
	walkErr := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if maxSize >= 0 && info.Size() > maxSize {
			fmt.Fprintf(stderr, "NOTICE: %s: skipped, larger than --max-size\n", rel)
			return nil
		}
		parent, err := megaMkdirAll(m, dir, strings.Split(filepath.ToSlash(filepath.Dir(rel)), "/"))
		if err != nil {
			return err
		}
		if _, err := m.UploadFile(p, parent, filepath.Base(rel), nil); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		fmt.Fprintf(stderr, "INFO  : %s: Copied (new)\n", rel)
		return nil
	})
	if walkErr != nil {
		return fail(1, "%v", walkErr)
	}
	return 0
}

// megaMkdirAll is the folder at names under parent, each made if missing
// ("." and "" name no folder).
func megaMkdirAll(m *mega.Mega, parent *mega.Node, names []string) (*mega.Node, error) {
	for _, name := range names {
		if name == "" || name == "." {
			continue
		}
		children, err := m.FS.GetChildren(parent)
		if err != nil {
			return nil, err
		}
		var next *mega.Node
		for _, c := range children {
			if c.GetName() == name && c.GetType() == mega.FOLDER {
				next = c
			}
		}
		if next == nil {
			if next, err = m.CreateDir(name, parent); err != nil {
				return nil, err
			}
		}
		parent = next
	}
	return parent, nil
}

// megaRemote reads the user and the revealed password of remote, a mega
// remote of the rclone.conf at path.
func megaRemote(path, remote string) (user, pass string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("rclone config: %w", err)
	}
	defer f.Close()
	values := map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if s, ok := strings.CutPrefix(line, "["); ok {
			section = strings.TrimSuffix(s, "]")
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && section == remote {
			values[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("rclone config: %w", err)
	}
	if values["type"] != "mega" {
		return "", "", fmt.Errorf("rclone config %s: remote %q is not of type mega", path, remote)
	}
	pass, err = rcloneReveal(values["pass"])
	if err != nil {
		return "", "", fmt.Errorf("rclone config %s: pass: %w", path, err)
	}
	return values["user"], pass, nil
}

// rcloneObscureKey is the fixed key rclone obscures passwords with (its
// fs/config/obscure): obscuring hides a password from a glance, no more.
var rcloneObscureKey = []byte{
	0x9c, 0x93, 0x5b, 0x48, 0x73, 0x0a, 0x55, 0x4d, 0x6b, 0xfd, 0x7c, 0x63, 0xc8, 0x86, 0xa9, 0x2b,
	0xd3, 0x90, 0x19, 0x8e, 0xb8, 0x12, 0x8a, 0xfb, 0xf4, 0xde, 0x16, 0x2b, 0x8b, 0x95, 0xf6, 0x38,
}

// rcloneReveal undoes rclone's obscuring: base64 (URL alphabet) of an IV
// and the password AES-CTR encrypted with the fixed key.
func rcloneReveal(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("not obscured: %w", err)
	}
	if len(b) < aes.BlockSize {
		return "", errors.New("not obscured: too short")
	}
	blk, err := aes.NewCipher(rcloneObscureKey)
	if err != nil {
		return "", err
	}
	out := make([]byte, len(b)-aes.BlockSize)
	cipher.NewCTR(blk, b[:aes.BlockSize]).XORKeyStream(out, b[aes.BlockSize:])
	return string(out), nil
}

// parseRcloneSize reads a size as rclone's flags take it: a number of KiB,
// or with a b, k, M or G suffix (powers of 1024).
func parseRcloneSize(s string) (int64, error) {
	mult := int64(1 << 10)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'b', 'B':
			mult, s = 1, s[:n-1]
		case 'k', 'K':
			s = s[:n-1]
		case 'm', 'M':
			mult, s = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, s = 1<<30, s[:n-1]
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("size %q", s)
	}
	return int64(f * float64(mult)), nil
}
