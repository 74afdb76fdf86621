package containers

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// dpkgQueryFormat is what [parseInstalled] reads: one installed package a
// line, tab-separated.
const dpkgQueryFormat = "${Package}\t${Architecture}\t${Version}\t${db:Status-Abbrev}\t${Essential}\t${Priority}\t${Provides}\t${Pre-Depends}\t${Depends}\n"

// hostBase is a base image to be made from the host's own installed Debian
// packages: the recipe's packages and their dependency closure.
type hostBase struct {
	pkgs []*debPkg
	// key names the image: the recipe plus every package's version, so an
	// upgrade on the host makes a new image.
	key string
}

// debPkg is one package installed on the host.
type debPkg struct {
	Name, Arch, Version string
	// Base is true for Essential: yes and Priority: required packages,
	// what debootstrap's minbase installs whatever the recipe says.
	Base     bool
	Provides []string
	// Depends holds Pre-Depends and Depends: each group is a list of
	// alternatives, by package name (version and arch qualifiers dropped:
	// dpkg only leaves a package installed with them satisfied).
	Depends [][]string
}

// Spec is how dpkg-query names the package: arch-qualified unless it is
// Architecture: all.
func (p *debPkg) Spec() string {
	if p.Arch == "all" {
		return p.Name
	}
	return p.Name + ":" + p.Arch
}

// installedDB is the host's dpkg database, installed packages only, of
// the native architecture (or all).
type installedDB struct {
	pkgs      map[string]*debPkg
	providers map[string][]*debPkg
}

// parseInstalled reads dpkg-query -W -f=[dpkgQueryFormat] output. Packages
// not fully installed ("ii") and foreign-architecture packages are left
// out: the image is of the native architecture.
func parseInstalled(out []byte, native string) (*installedDB, error) {
	db := &installedDB{pkgs: map[string]*debPkg{}, providers: map[string][]*debPkg{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for n := 1; sc.Scan(); n++ {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 9 {
			return nil, fmt.Errorf("dpkg-query line %d: %d fields, want 9", n, len(f))
		}
		if strings.TrimSpace(f[3]) != "ii" || (f[1] != native && f[1] != "all") {
			continue
		}
		p := &debPkg{
			Name: f[0], Arch: f[1], Version: f[2],
			Base:     f[4] == "yes" || f[5] == "required",
			Provides: depNames(f[6]),
		}
		for _, field := range f[7:] {
			for _, group := range splitList(field) {
				p.Depends = append(p.Depends, depNames(strings.ReplaceAll(group, "|", ",")))
			}
		}
		db.pkgs[p.Name] = p
		for _, v := range p.Provides {
			db.providers[v] = append(db.providers[v], p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dpkg-query output: %w", err)
	}
	for _, ps := range db.providers {
		slices.SortFunc(ps, func(a, b *debPkg) int { return strings.Compare(a.Name, b.Name) })
	}
	return db, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// depNames returns the package names of a comma-separated relation field,
// without version constraints, arch qualifiers (perl:any) or arch lists.
func depNames(field string) []string {
	var names []string
	for _, rel := range splitList(field) {
		name, _, _ := strings.Cut(rel, " ")
		name, _, _ = strings.Cut(name, "(")
		name, _, _ = strings.Cut(name, ":")
		if name != "" {
			names = append(names, name)
		}
	}
	return names
}

// satisfier returns the installed package that satisfies a dependency
// group: the first alternative installed, else the first installed package
// providing it (by name, so the choice is the same on every run).
func (db *installedDB) satisfier(alts []string) *debPkg {
	for _, a := range alts {
		if p := db.pkgs[a]; p != nil {
			return p
		}
	}
	for _, a := range alts {
		if ps := db.providers[a]; len(ps) > 0 {
			return ps[0]
		}
	}
	return nil
}

// closure returns the packages a root filesystem made of roots needs:
// roots, every base package (Essential or required) and their
// dependencies, sorted by name. A root not installed, or a dependency no
// installed package satisfies, is an error that says which.
func (db *installedDB) closure(roots []string) ([]*debPkg, error) {
	seen := map[string]*debPkg{}
	var queue []*debPkg
	add := func(p *debPkg) {
		if seen[p.Name] == nil {
			seen[p.Name] = p
			queue = append(queue, p)
		}
	}
	for _, r := range roots {
		p := db.pkgs[r]
		if p == nil {
			return nil, fmt.Errorf("recipe package %s is not installed on the host", r)
		}
		add(p)
	}
	for _, p := range db.pkgs {
		if p.Base {
			add(p)
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, alts := range p.Depends {
			dep := db.satisfier(alts)
			if dep == nil {
				return nil, fmt.Errorf("%s depends on %s, which no installed package satisfies", p.Name, strings.Join(alts, " | "))
			}
			add(dep)
		}
	}
	out := make([]*debPkg, 0, len(seen))
	for _, p := range seen {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *debPkg) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// osRelease returns the ID and VERSION_CODENAME of an os-release file.
func osRelease(b []byte) (id, codename string) {
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			id = v
		case "VERSION_CODENAME":
			codename = v
		}
	}
	return id, codename
}

// filterStatus returns the stanzas of a dpkg status file for the packages
// in keep (by Spec), so that dpkg in the image knows what it holds.
func filterStatus(status []byte, keep map[string]bool) []byte {
	var out bytes.Buffer
	for _, stanza := range bytes.Split(status, []byte("\n\n")) {
		var name, arch string
		for _, line := range bytes.Split(stanza, []byte("\n")) {
			if v, ok := bytes.CutPrefix(line, []byte("Package: ")); ok {
				name = string(v)
			} else if v, ok := bytes.CutPrefix(line, []byte("Architecture: ")); ok {
				arch = string(v)
			}
		}
		spec := name
		if arch != "all" {
			spec += ":" + arch
		}
		if name != "" && keep[spec] {
			out.Write(bytes.TrimSpace(stanza))
			out.WriteString("\n\n")
		}
	}
	return out.Bytes()
}

// alternativeLinks reads a file of /var/lib/dpkg/alternatives (named
// master): the mode, the master link, then slave name and link pairs up
// to a blank line. It returns each name's link (/usr/bin/awk for awk),
// which update-alternatives made and no package lists.
func alternativeLinks(master string, b []byte) map[string]string {
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "/") {
		return nil
	}
	links := map[string]string{master: lines[1]}
	for i := 2; i+1 < len(lines) && lines[i] != ""; i += 2 {
		links[lines[i]] = lines[i+1]
	}
	return links
}
