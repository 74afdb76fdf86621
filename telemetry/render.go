package telemetry

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/sensor"
)

// Realism chooses what Sysmon Event ID 3 carries in DestinationHostname.
type Realism string

const (
	// RealismResolved writes the name the client asked for (default).
	RealismResolved Realism = "resolved"
	// RealismPTR writes the reverse-lookup name, as Sysmon's own DNS lookup does.
	RealismPTR Realism = "ptr"
	// RealismOff writes "-", as Sysmon does with DnsLookup disabled.
	RealismOff Realism = "off"
)

// ParseRealism validates a --realism value.
func ParseRealism(s string) (Realism, error) {
	switch r := Realism(s); r {
	case RealismResolved, RealismPTR, RealismOff:
		return r, nil
	case "":
		return RealismResolved, nil
	}
	return "", fmt.Errorf("realism %q: want resolved, ptr or off", s)
}

// Input is one atomic test's run as the sensor and the emulator saw it.
type Input struct {
	RunID string
	// Observations are the sensor's, in the order of its file: the n-th
	// (from 1) has the id "obs-n" that rendered events list.
	Observations []sensor.Observation
	// Ledger holds the emulator's entries for the test; the renderer joins
	// a connect() to the entry whose client socket is the connect's local
	// socket.
	Ledger []emulator.Entry
	// Shell is the atomic's Windows executor name (command_prompt,
	// powershell) and Command its Windows command: the first process.
	Shell   string
	Command string
	// Merge is the executable whose processes are the simulated tool
	// itself (the harness's replay child): their activity belongs to their
	// parent, and they are not rendered as processes of their own. Every
	// event of such a test has the provenance Simulated.
	Merge string
	// WorkDir and HomeDir are the Linux directories that map to the
	// profile's work_dir and the user's profile folder.
	WorkDir string
	HomeDir string
	Realism Realism
	// Hashes caches the hashes of binaries across renders of one run;
	// nil hashes afresh.
	Hashes *HashCache
	// Records numbers EventRecordIDs across the renders of one run, so
	// that a host's channel never repeats one (the provenance sidecar of
	// events.xml is keyed by them); nil numbers from the profile's base.
	Records *RecordIDs
}

// RecordIDs counts the EventRecordIDs given on each host and channel.
type RecordIDs struct {
	mu sync.Mutex
	m  map[string]uint64
}

// NewRecordIDs returns a counter that has given no id yet.
func NewRecordIDs() *RecordIDs { return &RecordIDs{m: map[string]uint64{}} }

func (c *RecordIDs) next(host, channel string, base uint64) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := strings.ToLower(host) + "\x00" + channel
	c.m[k]++
	return base + c.m[k]
}

// HashCache remembers the Hashes field of each binary, which costs a read
// of the whole file, across every test and context of a run.
type HashCache struct {
	mu sync.Mutex
	m  map[string]string
}

// NewHashCache returns an empty cache.
func NewHashCache() *HashCache { return &HashCache{m: map[string]string{}} }

// process is one rendered Windows process.
type process struct {
	guid, image, cmdline, cwd string
	pid                       int
	parent                    *process
	hashes                    string
	meta                      Image
	dnsDone                   map[string]bool
	readDone                  map[string]bool // files whose read was audited
	// prov is what the process's creation rests on; events it causes
	// (connections, files) are observed but name its image, so where the
	// process is not observed its Image is listed as modelled there.
	prov event.Provenance
	// created are the indexes of its creation events, which gain the ids
	// of the observed processes it stands for as they fold into it.
	created []int
}

// renderer holds the state of rendering one input under one profile.
type renderer struct {
	p      *Profile
	in     Input
	events []event.Event
	byPID  map[int]*process // Linux pid -> current Windows process
	folded map[int]bool     // Linux pids folded into an ancestor
	ppidOf map[int]int      // Linux pid -> the pid that forked it
	// shellImage is how a Linux shell renders when it is not the root.
	shellImage string
	root       *process
	rootPID    int
	parent     *process
	nextPID    int
	seq        int
	hashes     *HashCache
	// obsID is each observation's id, by its address in the input.
	obsID map[*sensor.Observation]string
	// executables are the Linux paths some process ran from: under a
	// mapped folder they carry the .exe Windows requires, wherever named.
	executables map[string]bool
	// cur is the observation being rendered and extra the ledger
	// entries joined to it: the ids every event emitted now lists.
	cur   string
	extra []string
}

// ObservationID names the observation at index i of a test's
// observations, as the events rendered from it list it (Event.Observations).
func ObservationID(i int) string { return "obs-" + strconv.Itoa(i+1) }

// Render turns one test's observations into Windows events under profile p.
// Every event comes from an observation and says so (event.Provenance and
// the observation ids): the process tree from exec observations, network
// events from connect() joined with the ledger, file events from files the
// processes created, DNS from queries sent or, through the proxy, from the
// name the client asked the proxy for (modelled: the query itself was not
// seen). The atomic's first process is the declared Windows shell standing
// in for the observed Linux one (same time, same children); of that
// shell's children only the programs its Windows command names are
// rendered, the rest folds into it. The launcher a profile puts in front of
// a program (cmd\git.exe) is modelled.
func Render(p *Profile, in Input) ([]event.Event, error) {
	if in.Realism == "" {
		in.Realism = RealismResolved
	}
	if in.Hashes == nil {
		in.Hashes = NewHashCache()
	}
	if in.Records == nil {
		in.Records = NewRecordIDs()
	}
	shell, ok := p.Shells[in.Shell]
	if !ok {
		return nil, fmt.Errorf("profile %s has no shell %q", p.Name, in.Shell)
	}
	r := &renderer{
		p: p, in: in, byPID: map[int]*process{}, folded: map[int]bool{}, ppidOf: map[int]int{}, nextPID: 5000 + 4*int(hash32(in.RunID)%500),
		hashes: in.Hashes,
	}
	sh, _ := p.ImageFor("sh", "sh")
	r.shellImage = sh.Image
	// The profile's parent (Explorer, Code.exe) is modelled: no event of
	// its own, only the Parent* fields of the first process.
	r.parent = &process{
		image: p.expand(p.Parent.Image), cmdline: p.expand(p.Parent.CommandLine), pid: p.Parent.PID, prov: event.Modelled,
	}
	r.parent.guid = r.guid(time.Unix(0, 0), "parent")
	r.obsID = make(map[*sensor.Observation]string, len(in.Observations))
	r.executables = map[string]bool{}
	obs := make([]*sensor.Observation, len(in.Observations))
	for i := range in.Observations {
		obs[i] = &in.Observations[i]
		r.obsID[obs[i]] = ObservationID(i)
		if obs[i].Kind == sensor.KindExec && obs[i].Exe != "" {
			r.executables[filepath.Clean(obs[i].Exe)] = true
		}
	}
	sort.SliceStable(obs, func(i, j int) bool { return obs[i].Time.Before(obs[j].Time) })
	// A subshell forks without exec: only its exit tells who its parent was.
	for _, o := range obs {
		if o.PPID != 0 {
			r.ppidOf[o.PID] = o.PPID
		}
	}
	for _, op := range obs {
		o := *op
		r.cur, r.extra = r.obsID[op], nil
		switch o.Kind {
		case sensor.KindExec:
			r.exec(o, shell)
		case sensor.KindConnect:
			r.connect(o)
		case sensor.KindDNS:
			if proc, _ := r.owner(o.PID); proc != nil {
				r.dns(proc, o.Time, o.DNSName, true, r.dnsPorts(o.PID, o.DNSName))
			}
		case sensor.KindFile:
			r.file(o)
		}
	}
	if in.Merge != "" {
		for i := range r.events {
			r.events[i].Provenance = event.Simulated
		}
	}
	return r.events, nil
}

func (r *renderer) exec(o sensor.Observation, shell Image) {
	if r.root == nil {
		// The executor's sh is the atomic's Windows shell.
		meta := shell
		meta.Image = r.p.expand(shell.Image)
		cmd := strings.ReplaceAll(shell.CommandLine, "{command}", strings.TrimSpace(r.in.Command))
		r.root = r.start(o, r.parent, meta, meta.Image, cmd, event.Declared)
		r.rootPID = o.PID
		r.byPID[o.PID] = r.root
		if shell.ScriptBlockLogging {
			r.scriptBlock(r.root, o.Time, strings.TrimSpace(r.in.Command))
		}
		return
	}
	if r.in.Merge != "" && o.Exe == r.in.Merge {
		// The replay child is the simulated tool: it is the process that
		// started it.
		if cur := r.byPID[o.PID]; cur != nil {
			return
		}
		r.byPID[o.PID] = r.byPID[o.PPID]
		r.standsFor(r.byPID[o.PID])
		return
	}
	// An exec without fork replaces the process the shell started;
	// otherwise the parent is the nearest rendered ancestor.
	parent, parentFolded := r.owner(o.PID)
	argv := append([]string(nil), o.Argv...)
	if len(argv) == 0 {
		argv = []string{o.Exe}
	}
	meta, mapped := r.p.ImageFor(argv[0], o.Exe)
	if local, ok := r.windowsPath(o.Exe); ok {
		// A program the test put in its own folders (a renamed copy) runs
		// from there, not from where the profile installs its namesake,
		// and by its path, not through that namesake's launcher.
		meta.Image, meta.Wrapper = local, ""
	}
	plumbing := r.p.collapses(argv) && (!mapped || meta.Image == r.shellImage)
	if plumbing || parentFolded && !mapped {
		// Plumbing with no Windows counterpart: what it does is its parent's.
		r.byPID[o.PID] = parent
		r.folded[o.PID] = true
		r.standsFor(parent)
		return
	}
	typedByShell := parent == r.root
	if typedByShell && !r.declares(meta, argv[0]) {
		// The Windows command would not start this program (sed under
		// powershell.exe): the declared shell stands for it.
		r.byPID[o.PID] = parent
		r.folded[o.PID] = true
		r.standsFor(parent)
		return
	}
	r.folded[o.PID] = false
	if meta.Wrapper != "" && typedByShell {
		// A command typed in the shell starts through the program's launcher.
		wrapperArgv := append([]string{firstNonEmpty(meta.Typed, meta.Wrapper)}, argv[1:]...)
		wmeta := meta
		wmeta.Image = meta.Wrapper
		parent = r.start(o, parent, wmeta, meta.Wrapper, JoinCommandLine(wrapperArgv), event.Modelled)
		typedByShell = false
	}
	if typedByShell && meta.Typed != "" {
		argv[0] = meta.Typed
	} else {
		argv[0] = meta.Image
	}
	r.byPID[o.PID] = r.start(o, parent, meta, meta.Image, JoinCommandLine(argv), event.Observed)
}

// declares reports whether the atomic's Windows command names the program
// (curl.exe, git, python.exe) as a word, so that the declared shell would
// start it.
func (r *renderer) declares(meta Image, argv0 string) bool {
	names := map[string]bool{}
	for _, n := range []string{meta.Typed, windowsBase(meta.Image), windowsBase(meta.Wrapper), path.Base(argv0)} {
		if n = strings.ToLower(n); n != "" && n != "." {
			names[n] = true
			names[strings.TrimSuffix(n, ".exe")] = true
		}
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(r.in.Command), func(c rune) bool {
		return !(c == '.' || c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z')
	}) {
		if names[w] {
			return true
		}
	}
	return false
}

// standsFor records that the observed process being rendered is folded
// into the declared process p: p's creation events list its observation.
func (r *renderer) standsFor(p *process) {
	if p == nil {
		return
	}
	for _, i := range p.created {
		r.events[i].Observations = appendUnique(r.events[i].Observations, r.cur)
	}
}

func windowsBase(p string) string {
	if i := strings.LastIndexByte(p, '\\'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func appendUnique(list []string, s ...string) []string {
	for _, v := range s {
		if v != "" && !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}

// owner is the rendered process that pid's activity belongs to: pid's own,
// or its nearest ancestor's; folded reports whether that link passes
// through folded plumbing.
func (r *renderer) owner(pid int) (proc *process, folded bool) {
	for range 128 { // bounded: a pid cycle in bad input must not hang
		if pid == 0 {
			break
		}
		if p, ok := r.byPID[pid]; ok {
			return p, folded || r.folded[pid]
		}
		pid = r.ppidOf[pid]
	}
	return r.root, folded
}

// start renders a process creation (Sysmon 1 and Security 4688).
// prov says whether the process is the observed one, the declared shell
// standing for it, or a modelled launcher in front of it.
func (r *renderer) start(o sensor.Observation, parent *process, meta Image, image, cmdline string, prov event.Provenance) *process {
	r.nextPID += 4
	proc := &process{
		image: image, cmdline: cmdline, pid: r.nextPID, parent: parent, meta: meta,
		cwd: r.windowsDir(o.Cwd), dnsDone: map[string]bool{}, prov: prov,
	}
	// Windows ids are made up; so is all a launcher's or a shell's parent.
	modelled := []string{"ProcessGuid", "ProcessId", "ParentProcessGuid", "ParentProcessId"}
	if parent.prov != event.Observed {
		modelled = append(modelled, "ParentImage", "ParentCommandLine")
	}
	switch {
	case meta.Hashes != "":
		proc.hashes = meta.Hashes
		modelled = append(modelled, "Hashes")
	case prov == event.Observed:
		// The binary that really ran, though a Linux one.
		proc.hashes = r.hashOf(o.Exe)
	default:
		// A Windows image the profile gives no hashes for: none (the
		// schema keeps the field), rather than a Linux binary's.
		proc.hashes = "-"
	}
	r.seq++
	proc.guid = r.guid(o.Time, strconv.Itoa(r.seq))
	p := r.p
	proc.created = []int{len(r.events), len(r.events) + 1}
	data := []event.Field{
		{Name: "RuleName", Value: "-"},
		{Name: "UtcTime", Value: utcTime(o.Time)},
		{Name: "ProcessGuid", Value: proc.guid},
		{Name: "ProcessId", Value: strconv.Itoa(proc.pid)},
		{Name: "Image", Value: image},
		{Name: "FileVersion", Value: meta.FileVersion},
		{Name: "Description", Value: meta.Description},
		{Name: "Product", Value: meta.Product},
		{Name: "Company", Value: meta.Company},
		{Name: "OriginalFileName", Value: meta.OriginalFileName},
		{Name: "CommandLine", Value: cmdline},
		{Name: "CurrentDirectory", Value: proc.cwd},
		{Name: "User", Value: p.Account()},
		{Name: "LogonGuid", Value: p.User.LogonGUID},
		{Name: "LogonId", Value: p.User.LogonID},
		{Name: "TerminalSessionId", Value: "1"},
		{Name: "IntegrityLevel", Value: p.User.Integrity},
		{Name: "Hashes", Value: proc.hashes},
		{Name: "ParentProcessGuid", Value: parent.guid},
		{Name: "ParentProcessId", Value: strconv.Itoa(parent.pid)},
		{Name: "ParentImage", Value: parent.image},
		{Name: "ParentCommandLine", Value: parent.cmdline},
		{Name: "ParentUser", Value: p.Account()},
	}
	r.sysmon(1, 5, o.Time, data)
	r.mark(prov, modelled...)
	r.events = append(r.events, event.Event{
		Provider: event.Security, EventID: 4688, Version: 2, Level: 0, Task: 13312, Opcode: 0,
		Keywords: "0x8020000000000000", TimeCreated: o.Time, RecordID: r.record("security", p.Security.RecordBase),
		ExecutionPID: 4, ExecutionTID: p.Security.TID, Channel: event.SecurityChannel, Computer: r.p.FQDN(), RunID: r.in.RunID,
		Data: []event.Field{
			{Name: "SubjectUserSid", Value: p.User.SID},
			{Name: "SubjectUserName", Value: p.User.Name},
			{Name: "SubjectDomainName", Value: p.User.Domain},
			{Name: "SubjectLogonId", Value: p.User.LogonID},
			{Name: "NewProcessId", Value: fmt.Sprintf("0x%x", proc.pid)},
			{Name: "NewProcessName", Value: image},
			{Name: "TokenElevationType", Value: tokenElevation(p.User.Integrity)},
			{Name: "ProcessId", Value: fmt.Sprintf("0x%x", parent.pid)},
			{Name: "CommandLine", Value: cmdline},
			{Name: "TargetUserSid", Value: "S-1-0-0"},
			{Name: "TargetUserName", Value: "-"},
			{Name: "TargetDomainName", Value: "-"},
			{Name: "TargetLogonId", Value: "0x0"},
			{Name: "ParentProcessName", Value: parent.image},
			{Name: "MandatoryLabel", Value: mandatoryLabel(p.User.Integrity)},
		},
	})
	r.mark(prov, "NewProcessId", "ProcessId")
	return proc
}

// mark sets the provenance of the event just appended, with the ids of
// the observation being rendered and, in an observed or declared event,
// the names of its modelled fields.
func (r *renderer) mark(prov event.Provenance, modelled ...string) {
	e := &r.events[len(r.events)-1]
	e.Provenance = prov
	e.Observations = appendUnique(nil, append([]string{r.cur}, r.extra...)...)
	e.Context = r.p.Name
	if prov == event.Observed || prov == event.Declared {
		for _, f := range modelled {
			if _, ok := e.Get(f); ok {
				e.ModelledFields = appendUnique(e.ModelledFields, f)
			}
		}
	}
}

// actor is how an event caused by proc is marked: observed, with proc's
// own made-up ids (and its image, when proc is not the observed process)
// listed as modelled.
func (r *renderer) actor(proc *process, modelled ...string) {
	modelled = append(modelled, "ProcessGuid", "ProcessId")
	if proc.prov != event.Observed {
		modelled = append(modelled, "Image")
	}
	r.mark(event.Observed, modelled...)
}

func (r *renderer) scriptBlock(proc *process, t time.Time, text string) {
	r.events = append(r.events, event.Event{
		Provider: event.PowerShell, EventID: 4104, Version: 1, Level: 5, Task: 2, Opcode: 15, Keywords: "0x0",
		TimeCreated: t.Add(time.Millisecond), RecordID: r.record("powershell", r.p.PowerShellLog.RecordBase),
		ExecutionPID: proc.pid, ExecutionTID: proc.pid + 4, Channel: event.PowerShellChannel, Computer: r.p.FQDN(),
		UserID: r.p.User.SID, RunID: r.in.RunID,
		Data: []event.Field{
			{Name: "MessageNumber", Value: "1"},
			{Name: "MessageTotal", Value: "1"},
			{Name: "ScriptBlockText", Value: text},
			{Name: "ScriptBlockId", Value: r.guid(t, "scriptblock")},
			{Name: "Path", Value: ""},
		},
	})
	r.mark(event.Declared)
	proc.created = append(proc.created, len(r.events)-1)
}

// connect renders Sysmon 3 for a TCP connect, joined with the ledger on the
// client socket to learn the host the client really asked for.
func (r *renderer) connect(o sensor.Observation) {
	proc, _ := r.owner(o.PID)
	if proc == nil || (o.Result != sensor.ResultOK && o.Result != sensor.ResultAttempted) || o.Proto == "udp" {
		return
	}
	host, port := "", o.RemotePort
	destIP := o.RemoteIP
	dialled := false // the client dialled the mock's address itself (sandbox)
	for _, e := range r.in.Ledger {
		if e.IsRequest() && e.ClientPort == o.LocalPort && (e.ClientIP == o.LocalIP || o.LocalIP == "") {
			r.extra = append(r.extra, "ledger-"+strconv.FormatInt(e.Seq, 10))
			host = e.Host
			if dialled = e.DestIP != ""; dialled {
				port = e.DestPort
			} else if e.Method == "CONNECT" {
				if _, p, err := net.SplitHostPort(e.Path); err == nil {
					port, _ = strconv.Atoi(p)
				}
			} else {
				port = 443
			}
			break
		}
	}
	destName := "-"
	if host != "" {
		res, ok := r.p.Resolver[host]
		// Behind the proxy the address is the profile's; in the sandbox
		// it is the one the client really dialled, and any DNS query it
		// made was observed on its own.
		if ok && !dialled {
			destIP = res.IP
		}
		if !dialled {
			r.dns(proc, o.Time.Add(-time.Millisecond), host, false, nil)
		}
		switch r.in.Realism {
		case RealismResolved:
			destName = host
		case RealismPTR:
			destName = firstNonEmpty(res.PTR, "-")
		}
	}
	ipv6 := strings.Contains(destIP, ":")
	r.sysmon(3, 5, o.Time, []event.Field{
		{Name: "RuleName", Value: "-"},
		{Name: "UtcTime", Value: utcTime(o.Time)},
		{Name: "ProcessGuid", Value: proc.guid},
		{Name: "ProcessId", Value: strconv.Itoa(proc.pid)},
		{Name: "Image", Value: proc.image},
		{Name: "User", Value: r.p.Account()},
		{Name: "Protocol", Value: "tcp"},
		{Name: "Initiated", Value: "true"},
		{Name: "SourceIsIpv6", Value: strconv.FormatBool(ipv6)},
		{Name: "SourceIp", Value: r.p.Host.IP},
		{Name: "SourceHostname", Value: r.p.FQDN()},
		{Name: "SourcePort", Value: strconv.Itoa(o.LocalPort)},
		{Name: "SourcePortName", Value: "-"},
		{Name: "DestinationIsIpv6", Value: strconv.FormatBool(ipv6)},
		{Name: "DestinationIp", Value: destIP},
		{Name: "DestinationHostname", Value: destName},
		{Name: "DestinationPort", Value: strconv.Itoa(port)},
		{Name: "DestinationPortName", Value: portName(port)},
	})
	modelled := []string{"SourceIp", "SourceHostname"}
	if destIP != o.RemoteIP {
		modelled = append(modelled, "DestinationIp", "DestinationIsIpv6")
	}
	r.actor(proc, modelled...)
}

// dns renders Sysmon 22 once per process and name. seen says whether the
// query itself was observed, ports are the local ports of the process's
// queries for name where known: the sinkhole's records of them are found
// on those ports.
func (r *renderer) dns(proc *process, t time.Time, name string, seen bool, ports []int) {
	if name == "" || proc.dnsDone[name] {
		return
	}
	proc.dnsDone[name] = true
	status, results := "0", "-"
	q := r.ledgerQuery(name, ports)
	if q != nil {
		status, results = q.DNS.Status(), q.DNS.Results()
	} else if res, ok := r.p.Resolver[name]; ok {
		results = "::ffff:" + res.IP + ";"
	}
	r.sysmon(22, 5, t, []event.Field{
		{Name: "RuleName", Value: "-"},
		{Name: "UtcTime", Value: utcTime(t)},
		{Name: "ProcessGuid", Value: proc.guid},
		{Name: "ProcessId", Value: strconv.Itoa(proc.pid)},
		{Name: "QueryName", Value: name},
		{Name: "QueryStatus", Value: status},
		{Name: "QueryResults", Value: results},
		{Name: "Image", Value: proc.image},
		{Name: "User", Value: r.p.Account()},
	})
	if seen && q != nil {
		// Sent, and answered by the sinkhole: the answer is observed too.
		r.extra = append(r.extra, "ledger-"+strconv.FormatInt(q.Seq, 10))
		r.actor(proc)
		return
	}
	if seen {
		r.actor(proc, "QueryResults")
		return
	}
	// A name the client asked the proxy for: Windows would have looked it
	// up, but no query was seen.
	r.mark(event.Modelled, "ProcessGuid", "ProcessId")
}

// ledgerQuery is the DNS sinkhole's record of the process's query for
// name (its A query where there are several), nil where the query did not
// reach the sinkhole (behind the proxy).
func (r *renderer) ledgerQuery(name string, ports []int) *emulator.Entry {
	var found *emulator.Entry
	score := -1
	for i, e := range r.in.Ledger {
		if e.Kind != emulator.KindDNS || e.DNS.Name != name {
			continue
		}
		// A query from one of the process's own sockets first, then an A
		// query (Sysmon logs one event for the A and AAAA lookups).
		s := 0
		if slices.Contains(ports, e.ClientPort) {
			s += 2
		}
		if e.DNS.Type == "A" {
			s++
		}
		if s > score {
			found, score = &r.in.Ledger[i], s
		}
	}
	return found
}

// dnsPorts are the local ports of every query for name that the sensor
// saw pid send.
func (r *renderer) dnsPorts(pid int, name string) []int {
	var ports []int
	for _, o := range r.in.Observations {
		if o.Kind == sensor.KindDNS && o.PID == pid && o.DNSName == name && o.LocalPort != 0 {
			ports = append(ports, o.LocalPort)
		}
	}
	return ports
}

func (r *renderer) file(o sensor.Observation) {
	proc, _ := r.owner(o.PID)
	if proc == nil || (o.Result != "" && o.Result != sensor.ResultOK) {
		return
	}
	target, ok := r.windowsPath(o.Path)
	if !ok {
		return
	}
	if strings.HasPrefix(o.Flags, "O_RDONLY") {
		r.objectRead(proc, o.Time, target)
		return
	}
	if !o.Created {
		return
	}
	r.sysmon(11, 2, o.Time, []event.Field{
		{Name: "RuleName", Value: "-"},
		{Name: "UtcTime", Value: utcTime(o.Time)},
		{Name: "ProcessGuid", Value: proc.guid},
		{Name: "ProcessId", Value: strconv.Itoa(proc.pid)},
		{Name: "Image", Value: proc.image},
		{Name: "TargetFilename", Value: target},
		{Name: "CreationUtcTime", Value: utcTime(o.Time)},
		{Name: "User", Value: r.p.Account()},
	})
	r.actor(proc)
}

// objectRead renders Security 4663 (ReadData) for a file read under a
// folder the profile audits, once per process and file.
func (r *renderer) objectRead(proc *process, t time.Time, target string) {
	if !r.p.auditsRead(target) || proc.readDone[target] {
		return
	}
	if proc.readDone == nil {
		proc.readDone = map[string]bool{}
	}
	proc.readDone[target] = true
	p := r.p
	r.events = append(r.events, event.Event{
		Provider: event.Security, EventID: 4663, Version: 1, Level: 0, Task: 12800, Opcode: 0,
		Keywords: "0x8020000000000000", TimeCreated: t, RecordID: r.record("security", p.Security.RecordBase),
		ExecutionPID: 4, ExecutionTID: p.Security.TID, Channel: event.SecurityChannel, Computer: p.FQDN(), RunID: r.in.RunID,
		Data: []event.Field{
			{Name: "SubjectUserSid", Value: p.User.SID},
			{Name: "SubjectUserName", Value: p.User.Name},
			{Name: "SubjectDomainName", Value: p.User.Domain},
			{Name: "SubjectLogonId", Value: p.User.LogonID},
			{Name: "ObjectServer", Value: "Security"},
			{Name: "ObjectType", Value: "File"},
			{Name: "ObjectName", Value: target},
			{Name: "HandleId", Value: fmt.Sprintf("0x%x", 0x100+4*len(proc.readDone))},
			{Name: "AccessList", Value: "%%4416\n\t\t\t\t"},
			{Name: "AccessMask", Value: "0x1"},
			{Name: "ProcessId", Value: fmt.Sprintf("0x%x", proc.pid)},
			{Name: "ProcessName", Value: proc.image},
			{Name: "ResourceAttributes", Value: "S:AI"},
		},
	})
	modelled := []string{"ProcessId", "HandleId"}
	if proc.prov != event.Observed {
		modelled = append(modelled, "ProcessName")
	}
	r.mark(event.Observed, modelled...)
}

func (r *renderer) sysmon(id, version int, t time.Time, data []event.Field) {
	r.events = append(r.events, event.Event{
		Provider: event.Sysmon, EventID: id, Version: version, Level: 4, Task: id, Opcode: 0,
		Keywords: "0x8000000000000000", TimeCreated: t, RecordID: r.record("sysmon", r.p.Sysmon.RecordBase),
		ExecutionPID: r.p.Sysmon.PID, ExecutionTID: r.p.Sysmon.TID, Channel: event.SysmonChannel,
		Computer: r.p.FQDN(), UserID: "S-1-5-18", Data: data, RunID: r.in.RunID,
	})
}

func (r *renderer) record(channel string, base uint64) uint64 {
	return r.in.Records.next(r.p.FQDN(), channel, base)
}

// windowsPath maps a Linux path under the work or home directory; a file
// some process ran from gets the .exe it would need on Windows.
func (r *renderer) windowsPath(p string) (string, bool) {
	win, ok := r.mapPath(p)
	if ok && r.executables[filepath.Clean(p)] && !strings.HasSuffix(strings.ToLower(win), ".exe") {
		win += ".exe"
	}
	return win, ok
}

func (r *renderer) mapPath(p string) (string, bool) {
	folders := r.p.testFolders()
	for _, m := range []struct{ linux, windows string }{
		{r.in.WorkDir, folders[0]},
		{r.in.HomeDir, folders[1]},
	} {
		if m.linux == "" {
			continue
		}
		rel, err := filepath.Rel(m.linux, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		if rel == "." {
			return m.windows, true
		}
		return m.windows + `\` + strings.ReplaceAll(rel, "/", `\`), true
	}
	return "", false
}

// windowsDir is a process's current directory as Sysmon writes it, with a
// trailing backslash; unknown directories render as the work directory.
func (r *renderer) windowsDir(p string) string {
	d, ok := r.mapPath(p)
	if !ok {
		d = r.p.expand(r.p.WorkDir)
	}
	return d + `\`
}

// guid is a Sysmon-shaped process GUID: the machine prefix, the start time,
// and a run-stable unique tail.
func (r *renderer) guid(t time.Time, salt string) string {
	h := fnv.New64a()
	io.WriteString(h, r.in.RunID+"/"+r.p.Name+"/"+salt)
	tail := h.Sum64()
	secs := uint32(t.Unix())
	return fmt.Sprintf("{%s-%04X-%04X-%04X-%012X}", strings.ToUpper(firstNonEmpty(r.p.Host.MachineGUIDPrefix, "00000000")),
		secs&0xffff, secs>>16, uint16(tail>>48), tail&0xffffffffffff)
}

// hashOf is the Hashes field of the binary that really ran.
func (r *renderer) hashOf(exe string) string {
	r.hashes.mu.Lock()
	defer r.hashes.mu.Unlock()
	if h, ok := r.hashes.m[exe]; ok {
		return h
	}
	h := "-"
	if f, err := os.Open(exe); err == nil {
		md, sh := md5.New(), sha256.New()
		if _, err := io.Copy(io.MultiWriter(md, sh), f); err == nil {
			// An ELF binary has no PE import table: Sysmon writes zeros then.
			h = fmt.Sprintf("MD5=%s,SHA256=%s,IMPHASH=00000000000000000000000000000000",
				strings.ToUpper(hex.EncodeToString(md.Sum(nil))), strings.ToUpper(hex.EncodeToString(sh.Sum(nil))))
		}
		f.Close()
	}
	r.hashes.m[exe] = h
	return h
}

func utcTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

func portName(port int) string {
	switch port {
	case 443:
		return "https"
	case 80:
		return "http"
	case 53:
		return "domain"
	}
	return "-"
}

func tokenElevation(integrity string) string {
	if strings.EqualFold(integrity, "High") {
		return "%%1937"
	}
	return "%%1938"
}

func mandatoryLabel(integrity string) string {
	switch strings.ToLower(integrity) {
	case "high":
		return "S-1-16-12288"
	case "system":
		return "S-1-16-16384"
	case "low":
		return "S-1-16-4096"
	}
	return "S-1-16-8192"
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func hash32(s string) uint32 {
	h := fnv.New32a()
	io.WriteString(h, s)
	return h.Sum32()
}
