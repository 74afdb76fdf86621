package harness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// runDirPattern names every run's temporary folder (os.MkdirTemp).
const runDirPattern = "t1567-run-"

// markerFile in a run's folder holds the pid of the harness running it:
// a folder whose harness is gone (SIGKILL) is an orphan.
const markerFile = "harness.pid"

// RunDirEnv is set in every test process to its run's folder, so that the
// processes of an orphaned run can be found and ended.
const RunDirEnv = "T1567_HARNESS_RUN_DIR"

// writeMarker records this process as the owner of the run folder dir.
func writeMarker(dir string) error {
	// The start time tells a recycled pid from the harness that wrote it.
	start, err := startTime(os.Getpid())
	if err != nil {
		return err
	}
	data := fmt.Sprintf("%d %s\n", os.Getpid(), start)
	if err := os.WriteFile(filepath.Join(dir, markerFile), []byte(data), 0o600); err != nil {
		return fmt.Errorf("run marker: %w", err)
	}
	return nil
}

// CleanOrphans ends the processes of every run whose harness is gone and
// removes their folders under the temporary directory, and returns the
// folders removed. A run whose harness still lives is left alone.
func CleanOrphans() ([]string, error) {
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), runDirPattern+"*"))
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, dir := range dirs {
		if alive(dir) {
			continue
		}
		killTagged(dir)
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("removing orphaned run %s: %w", dir, err))
			continue
		}
		removed = append(removed, dir)
	}
	return removed, errors.Join(errs...)
}

// alive reports whether the harness that made dir still runs. A folder
// without a marker is being set up, or is not ours: it is left alone.
func alive(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, markerFile))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		return true
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil {
		return true
	}
	start, err := startTime(pid)
	return err == nil && start == fields[1]
}

// killTagged kills every process whose environment names dir as its run.
func killTagged(dir string) {
	tag := []byte(RunDirEnv + "=" + dir + "\x00")
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		env, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(env, tag) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// startTime is field 22 of /proc/pid/stat: the process's start in ticks.
func startTime(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// The command name (field 2) may hold spaces; count from its end.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return "", fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 20 {
		return "", fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	return fields[19], nil
}
