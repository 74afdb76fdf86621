package containers

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dpkgLine is one line of dpkg-query -W -f=dpkgQueryFormat.
func dpkgLine(name, arch, status, essential, priority, provides, predepends, depends string) string {
	return strings.Join([]string{name, arch, "1.0", status, essential, priority, provides, predepends, depends}, "\t") + "\n"
}

func TestClosure(t *testing.T) {
	t.Parallel()
	out := dpkgLine("libc6", "amd64", "ii ", "no", "optional", "", "", "libgcc-s1") +
		dpkgLine("libgcc-s1", "amd64", "ii ", "no", "optional", "", "", "") +
		dpkgLine("libc6", "i386", "ii ", "no", "optional", "", "", "") +
		dpkgLine("dash", "amd64", "ii ", "yes", "required", "", "libc6 (>= 2.34)", "") +
		dpkgLine("mawk", "amd64", "ii ", "no", "required", "awk", "", "libc6 (>= 2.29)") +
		dpkgLine("curl", "amd64", "ii ", "no", "optional", "", "", "libc6 (>= 2.34), libcurl4 (= 7.88)") +
		dpkgLine("libcurl4", "amd64", "ii ", "no", "optional", "", "", "libc6") +
		// An alternative not installed, then one that is; a virtual
		// package provided by an installed one; perl:any.
		dpkgLine("git", "amd64", "ii ", "no", "optional", "", "", "libpcre2-8-0 | libpcre3, perl:any, awk-virtual | awk") +
		dpkgLine("libpcre3", "amd64", "ii ", "no", "optional", "", "", "") +
		dpkgLine("perl", "amd64", "ii ", "no", "optional", "", "", "") +
		dpkgLine("gawk", "amd64", "ii ", "no", "optional", "awk", "", "") +
		// Removed but with its config left: not installed.
		dpkgLine("ruby", "amd64", "rc ", "no", "optional", "", "", "") +
		dpkgLine("broken", "amd64", "ii ", "no", "optional", "", "", "libnowhere") +
		dpkgLine("vim", "amd64", "ii ", "no", "optional", "", "", "")
	db, err := parseInstalled([]byte(out), "amd64")
	require.NoError(t, err)

	tests := []struct {
		name    string
		roots   []string
		want    []string
		wantErr string
	}{
		{name: "base system only", want: []string{"dash", "libc6", "libgcc-s1", "mawk"}},
		{name: "versioned dependencies", roots: []string{"curl"}, want: []string{"curl", "dash", "libc6", "libcurl4", "libgcc-s1", "mawk"}},
		{
			name:  "alternatives and virtual packages resolve to what is installed",
			roots: []string{"git"},
			// awk: gawk and mawk both provide it; the first by name is
			// chosen.
			want: []string{"dash", "gawk", "git", "libc6", "libgcc-s1", "libpcre3", "mawk", "perl"},
		},
		{name: "a root not installed", roots: []string{"ruby"}, wantErr: "recipe package ruby is not installed on the host"},
		{name: "a root unknown", roots: []string{"nodejs"}, wantErr: "recipe package nodejs is not installed"},
		{name: "a dependency nothing satisfies", roots: []string{"broken"}, wantErr: "broken depends on libnowhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, err := db.closure(tt.roots)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, p := range pkgs {
				names = append(names, p.Name)
				assert.Equal(t, "amd64", p.Arch, "%s: the native package, not i386", p.Name)
			}
			assert.Equal(t, tt.want, names)
		})
	}
}

func TestParseInstalledRejectsMalformedLines(t *testing.T) {
	t.Parallel()
	_, err := parseInstalled([]byte(dpkgLine("a", "all", "ii ", "no", "optional", "", "", "")+"b\tall\n"), "amd64")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "dpkg-query line 2: 2 fields")
}

func TestDepNames(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"libc6", "perl", "libfoo", "bar"},
		depNames("libc6 (>= 2.34), perl:any, libfoo(= 1) ,  bar [amd64]"))
	assert.Empty(t, depNames(""))
}

func TestOSRelease(t *testing.T) {
	t.Parallel()
	id, codename := osRelease([]byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_CODENAME=bookworm\n"))
	assert.Equal(t, "debian", id)
	assert.Equal(t, "bookworm", codename)
	id, codename = osRelease([]byte("ID=\"ubuntu\"\nVERSION_CODENAME=jammy\n"))
	assert.Equal(t, "ubuntu", id)
	assert.Equal(t, "jammy", codename)
}

func TestFilterStatus(t *testing.T) {
	t.Parallel()
	status := "Package: git\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\n" +
		"Package: vim\nArchitecture: amd64\n\n" +
		"Package: tzdata\nArchitecture: all\nDescription: zones\n continued\n"
	got := string(filterStatus([]byte(status), map[string]bool{"git:amd64": true, "tzdata": true}))
	assert.Equal(t, "Package: git\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\n"+
		"Package: tzdata\nArchitecture: all\nDescription: zones\n continued\n\n", got)
}

func TestAlternativeLinks(t *testing.T) {
	t.Parallel()
	awk := "auto\n/usr/bin/awk\nawk.1.gz\n/usr/share/man/man1/awk.1.gz\nnawk\n/usr/bin/nawk\n\n/usr/bin/mawk\n5\n/usr/bin/mawk\n"
	assert.Equal(t, map[string]string{
		"awk": "/usr/bin/awk", "awk.1.gz": "/usr/share/man/man1/awk.1.gz", "nawk": "/usr/bin/nawk",
	}, alternativeLinks("awk", []byte(awk)))
	assert.Nil(t, alternativeLinks("x", []byte("auto\n")))
}
