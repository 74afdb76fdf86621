package sensor

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// procStatus holds the fields of /proc/<tid>/status the tracer needs.
type procStatus struct {
	Tgid, PPid, UID int
}

func readProcStatus(tid int) (procStatus, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return procStatus{}, fmt.Errorf("read status of %d: %w", tid, err)
	}
	return parseProcStatus(data)
}

func parseProcStatus(data []byte) (procStatus, error) {
	var st procStatus
	seen := 0
	for line := range bytes.Lines(data) {
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		fields := strings.Fields(string(val))
		if len(fields) == 0 {
			continue
		}
		var dst *int
		switch string(key) {
		case "Tgid":
			dst = &st.Tgid
		case "PPid":
			dst = &st.PPid
		case "Uid": // real, effective, saved, fs: report the real uid
			dst = &st.UID
		default:
			continue
		}
		n, err := strconv.Atoi(fields[0])
		if err != nil {
			return procStatus{}, fmt.Errorf("parse status field %s: %w", key, err)
		}
		*dst = n
		seen++
	}
	if seen < 3 {
		return procStatus{}, errors.New("status lacks Tgid, PPid or Uid")
	}
	return st, nil
}

// socketInode returns the inode of the socket behind fd of process pid.
func socketInode(pid, fd int) (string, error) {
	link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", err
	}
	ino, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return "", fmt.Errorf("fd %d of %d is %s, not a socket", fd, pid, link)
	}
	return strings.TrimSuffix(ino, "]"), nil
}

// procNetLocal finds the local address of fd of process pid by matching the
// socket inode in /proc/<pid>/net/{tcp,tcp6,udp,udp6}; it is the fallback
// when pidfd_getfd is unavailable (kernel < 5.6 or denied).
func procNetLocal(pid, fd int) (ip netip.Addr, port int, proto string, err error) {
	ino, err := socketInode(pid, fd)
	if err != nil {
		return netip.Addr{}, 0, "", err
	}
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6"} {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/" + table)
		if err != nil {
			continue // IPv6 may be disabled
		}
		ip, port, ok := findProcNetInode(data, ino)
		if ok {
			return ip, port, strings.TrimSuffix(table, "6"), nil
		}
	}
	return netip.Addr{}, 0, "", fmt.Errorf("socket inode %s of pid %d not in /proc/net", ino, pid)
}

// findProcNetInode scans a /proc/net/{tcp,udp}[6] table for the socket inode.
func findProcNetInode(table []byte, inode string) (netip.Addr, int, bool) {
	sc := bufio.NewScanner(bytes.NewReader(table))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[9] != inode {
			continue
		}
		ip, port, err := parseProcNetAddr(f[1])
		if err != nil {
			return netip.Addr{}, 0, false
		}
		return ip, port, true
	}
	return netip.Addr{}, 0, false
}

// parseProcNetAddr decodes "0100007F:1F90": the address is printed as
// 32-bit words in host (little-endian) order, the port in plain hex.
func parseProcNetAddr(s string) (netip.Addr, int, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.Addr{}, 0, fmt.Errorf("bad /proc/net address %q", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("bad /proc/net port %q: %w", s, err)
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.Addr{}, 0, fmt.Errorf("bad /proc/net address %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	ip, _ := netip.AddrFromSlice(raw)
	return ip.Unmap(), int(port), nil
}
