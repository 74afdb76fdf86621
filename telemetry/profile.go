package telemetry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Profile is a Windows host context the observations are rendered under.
// Profiles are data (fixtures/profiles/*.yaml); one may name a base profile
// whose fields it inherits and overrides.
type Profile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Base        string `yaml:"base"`
	// Realism is how this host's Sysmon fills DestinationHostname
	// (resolved, ptr or off); empty means resolved.
	Realism Realism `yaml:"realism"`
	Host    struct {
		Name              string `yaml:"name"`
		Domain            string `yaml:"domain"`
		IP                string `yaml:"ip"`
		MachineGUIDPrefix string `yaml:"machine_guid_prefix"`
	} `yaml:"host"`
	User struct {
		Name      string `yaml:"name"`
		Domain    string `yaml:"domain"`
		SID       string `yaml:"sid"`
		LogonID   string `yaml:"logon_id"`
		LogonGUID string `yaml:"logon_guid"`
		Integrity string `yaml:"integrity"`
	} `yaml:"user"`
	Temp    string `yaml:"temp"`
	WorkDir string `yaml:"work_dir"`
	Parent  struct {
		Image       string `yaml:"image"`
		CommandLine string `yaml:"command_line"`
		PID         int    `yaml:"pid"`
	} `yaml:"parent"`
	Shells          map[string]Image    `yaml:"shells"`
	Images          map[string]Image    `yaml:"images"`
	DefaultImageDir string              `yaml:"default_image_dir"`
	Aliases         map[string]string   `yaml:"aliases"`
	Collapse        []string            `yaml:"collapse"`
	Resolver        map[string]Resolved `yaml:"resolver"`
	// ObjectAccessAudit are the folders whose SACL audits reads (Security
	// 4663, ReadData) of the files under them.
	ObjectAccessAudit []string `yaml:"object_access_audit"`
	Sysmon            struct {
		PID        int    `yaml:"pid"`
		TID        int    `yaml:"tid"`
		RecordBase uint64 `yaml:"record_base"`
	} `yaml:"sysmon"`
	Security struct {
		TID        int    `yaml:"tid"`
		RecordBase uint64 `yaml:"record_base"`
	} `yaml:"security"`
	PowerShellLog struct {
		RecordBase uint64 `yaml:"record_base"`
	} `yaml:"powershell_log"`
}

// Image is how one program appears on Windows.
type Image struct {
	Image string `yaml:"image"`
	// Wrapper is a launcher that starts Image, as Git for Windows'
	// cmd\git.exe starts mingw64\bin\git.exe.
	Wrapper string `yaml:"wrapper"`
	// Typed is argv[0] as a user types it in a shell.
	Typed string `yaml:"typed"`
	// CommandLine, for shells: the command line with {command} in it.
	CommandLine      string `yaml:"command_line"`
	FileVersion      string `yaml:"file_version"`
	Description      string `yaml:"description"`
	Product          string `yaml:"product"`
	Company          string `yaml:"company"`
	OriginalFileName string `yaml:"original_file_name"`
	// Hashes is the Sysmon Hashes value of the Windows image; without it
	// a declared or modelled process's Hashes is "-", and an observed
	// one's the hashes of the binary that ran.
	Hashes             string `yaml:"hashes"`
	ScriptBlockLogging bool   `yaml:"script_block_logging"`
	// CodeSignature is the image's Authenticode signer, as Elastic Defend
	// reports it (process.code_signature.*); empty for an unsigned image.
	CodeSignature CodeSignature `yaml:"code_signature"`
}

// CodeSignature is who signed an image and whether Windows trusts it.
type CodeSignature struct {
	SubjectName string `yaml:"subject_name"`
	Trusted     bool   `yaml:"trusted"`
}

// ImageByPath returns the profile's entry for a Windows image path (or the
// wrapper that starts it), case-insensitively; for a program in one of the
// test's own folders, its namesake's, as the renderer gives a copy run
// from there (a copy keeps its version resource and signature).
func (p *Profile) ImageByPath(winPath string) (Image, bool) {
	for _, set := range []map[string]Image{p.Images, p.Shells} {
		for _, img := range set {
			if strings.EqualFold(p.expand(img.Image), winPath) || (img.Wrapper != "" && strings.EqualFold(p.expand(img.Wrapper), winPath)) {
				return img, true
			}
		}
	}
	dir, base, ok := cutLastBackslash(winPath)
	if !ok {
		return Image{}, false
	}
	for _, folder := range p.testFolders() {
		if underWindows(dir, folder) {
			name := base
			if len(name) > 4 && strings.EqualFold(name[len(name)-4:], ".exe") {
				name = name[:len(name)-4]
			}
			return p.ImageFor(name, name)
		}
	}
	return Image{}, false
}

// testFolders are the Windows folders of the test's own Linux folders:
// its work directory and the user's profile folder, its home.
func (p *Profile) testFolders() [2]string {
	return [2]string{p.expand(p.WorkDir), `C:\Users\` + p.User.Name}
}

// underWindows reports whether Windows path q is dir or lies under it.
func underWindows(q, dir string) bool {
	dir = strings.TrimSuffix(dir, `\`)
	return strings.EqualFold(q, dir) || len(q) > len(dir) && strings.EqualFold(q[:len(dir)], dir) && q[len(dir)] == '\\'
}

func cutLastBackslash(s string) (dir, base string, ok bool) {
	i := strings.LastIndexByte(s, '\\')
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// Resolved is what a host name resolves to on the rendered host's network.
type Resolved struct {
	IP  string `yaml:"ip"`
	PTR string `yaml:"ptr"`
}

// LoadProfile reads profile name from fsys (name.yaml), with its base.
func LoadProfile(fsys fs.FS, name string) (*Profile, error) {
	p := &Profile{}
	if err := loadInto(fsys, name, p, map[string]bool{}); err != nil {
		return nil, err
	}
	p.Base = ""
	if err := p.validate(name + ".yaml"); err != nil {
		return nil, err
	}
	if _, err := ParseRealism(string(p.Realism)); err != nil {
		return nil, &ProfileError{File: name + ".yaml", Msg: "realism: " + err.Error()}
	}
	return p, nil
}

// ProfileNames lists the context profiles in fsys: every *.yaml that names
// itself (bases carry no name).
func ProfileNames(fsys fs.FS) ([]string, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	var names []string
	for _, e := range entries {
		n, ok := strings.CutSuffix(e.Name(), ".yaml")
		if !ok || e.IsDir() {
			continue
		}
		var head struct {
			Name string `yaml:"name"`
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("profiles: %w", err)
		}
		if err := yaml.Unmarshal(data, &head); err != nil {
			return nil, profileError(e.Name(), data, err)
		}
		if head.Name != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

func loadInto(fsys fs.FS, name string, p *Profile, seen map[string]bool) error {
	file := name + ".yaml"
	if seen[name] {
		return &ProfileError{File: file, Msg: "base profiles form a cycle"}
	}
	seen[name] = true
	data, err := fs.ReadFile(fsys, path.Clean(file))
	if err != nil {
		return fmt.Errorf("profile %q: %w", name, err)
	}
	var head struct {
		Base string `yaml:"base"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return profileError(file, data, err)
	}
	if head.Base != "" {
		if err := loadInto(fsys, head.Base, p, seen); err != nil {
			return err
		}
	}
	// Decoding over the base overrides what this file sets and merges maps.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(p); err != nil && !errors.Is(err, io.EOF) {
		return profileError(file, data, err)
	}
	return nil
}

func (p *Profile) validate(file string) error {
	var missing []string
	for field, v := range map[string]string{
		"name": p.Name, "host.name": p.Host.Name, "user.name": p.User.Name, "user.domain": p.User.Domain,
		"user.sid": p.User.SID, "temp": p.Temp, "work_dir": p.WorkDir, "parent.image": p.Parent.Image,
	} {
		if v == "" {
			missing = append(missing, field)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return &ProfileError{File: file, Msg: "required field(s) missing: " + strings.Join(missing, ", ")}
	}
	return nil
}

// FQDN is the host's full name, as Sysmon writes SourceHostname.
func (p *Profile) FQDN() string {
	if p.Host.Domain == "" {
		return p.Host.Name
	}
	return p.Host.Name + "." + p.Host.Domain
}

// Account is DOMAIN\user, as Sysmon writes User.
func (p *Profile) Account() string { return p.User.Domain + `\` + p.User.Name }

// expand replaces the profile's placeholders in a Windows path.
func (p *Profile) expand(s string) string {
	s = strings.ReplaceAll(s, "{user}", p.User.Name)
	return strings.ReplaceAll(s, "%TEMP%", p.Temp)
}

// ImageFor returns how a Linux program appears on Windows, by the name it
// was started as (argv0: a link such as git-remote-https keeps its name
// there) or else by the executable's own name. mapped is false when the
// profile has no entry and the default image directory was used.
func (p *Profile) ImageFor(argv0, exe string) (img Image, mapped bool) {
	names := []string{path.Base(argv0), path.Base(exe)}
	for i, name := range names {
		if alias, ok := p.Aliases[name]; ok {
			names[i] = alias
		}
		if img, ok := p.Images[names[i]]; ok {
			img.Image = p.expand(img.Image)
			img.Wrapper = p.expand(img.Wrapper)
			return img, true
		}
	}
	base := names[1]
	return Image{
		Image: p.DefaultImageDir + `\` + base + ".exe", Typed: base,
		FileVersion: "-", Description: "-", Product: "-", Company: "-", OriginalFileName: "-",
	}, false
}

// collapses reports whether argv belongs to machine plumbing the profile
// folds away.
func (p *Profile) collapses(argv []string) bool {
	for _, a := range argv {
		for _, frag := range p.Collapse {
			if strings.Contains(a, frag) {
				return true
			}
		}
	}
	return false
}

// auditsRead reports whether the profile audits reads of the Windows path p.
func (p *Profile) auditsRead(winPath string) bool {
	for _, dir := range p.ObjectAccessAudit {
		dir = strings.TrimSuffix(p.expand(dir), `\`)
		if len(winPath) > len(dir) && strings.EqualFold(winPath[:len(dir)], dir) && winPath[len(dir)] == '\\' {
			return true
		}
	}
	return false
}
