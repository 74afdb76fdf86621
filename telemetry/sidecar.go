package telemetry

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/t1567001/harness/event"
)

// Events XML stays exactly the shape of real Windows events, so that a SIEM
// ingests it as it is; what each event rests on lives beside it, in a
// sidecar of JSON lines keyed by host, channel and EventRecordID.

// sidecarLine is one event's provenance in the sidecar.
type sidecarLine struct {
	Computer       string           `json:"Computer"`
	Channel        string           `json:"Channel"`
	RecordID       uint64           `json:"EventRecordID"`
	Provenance     event.Provenance `json:"harness_provenance"`
	Observations   []string         `json:"harness_observations,omitempty"`
	ModelledFields []string         `json:"harness_modelled_fields,omitempty"`
	Context        string           `json:"harness_context,omitempty"`
	RunID          string           `json:"harness_run_id,omitempty"`
}

func sidecarKey(computer, channel string, id uint64) string {
	return fmt.Sprintf("%s\x00%s\x00%d", strings.ToLower(computer), channel, id)
}

// SidecarPath is the provenance sidecar of an events XML file:
// events.xml -> events.provenance.jsonl.
func SidecarPath(xmlPath string) string {
	return strings.TrimSuffix(xmlPath, ".xml") + ".provenance.jsonl"
}

// WriteProvenance writes the sidecar of events: one line per event that
// has a provenance. Events sharing a host, channel and record id cannot be
// told apart in XML, so they are an error.
func WriteProvenance(w io.Writer, events []event.Event) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	seen := make(map[string]bool, len(events))
	for i := range events {
		e := &events[i]
		if e.Provenance == "" {
			continue
		}
		k := sidecarKey(e.Computer, e.Channel, e.RecordID)
		if seen[k] {
			return fmt.Errorf("provenance sidecar: two events on %s in %s have EventRecordID %d", e.Computer, e.Channel, e.RecordID)
		}
		seen[k] = true
		if err := enc.Encode(sidecarLine{
			Computer: e.Computer, Channel: e.Channel, RecordID: e.RecordID, Provenance: e.Provenance,
			Observations: e.Observations, ModelledFields: e.ModelledFields, Context: e.Context, RunID: e.RunID,
		}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ApplyProvenance reads a sidecar (name for errors) and sets the
// provenance of the events it names. A line naming no event, or a bad
// line, is an error with its line number.
func ApplyProvenance(name string, r io.Reader, events []event.Event) error {
	sc, err := LoadSidecar(name, r)
	if err != nil {
		return err
	}
	for i := range events {
		sc.Apply(&events[i])
	}
	return sc.Unused()
}

// Sidecar is a provenance sidecar held while its events are read one at a
// time (a replay streams the events; the sidecar is one short line per
// event the harness rendered).
type Sidecar struct {
	name  string
	lines map[string]sidecarEntry
}

type sidecarEntry struct {
	sidecarLine
	n    int // line number
	used bool
}

// LoadSidecar reads a sidecar (name for errors); a bad line is an error
// with its line number.
func LoadSidecar(name string, r io.Reader) (*Sidecar, error) {
	s := &Sidecar{name: name, lines: map[string]sidecarEntry{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var l sidecarLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		p, err := event.ParseProvenance(string(l.Provenance))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		l.Provenance = p
		s.lines[sidecarKey(l.Computer, l.Channel, l.RecordID)] = sidecarEntry{sidecarLine: l, n: n}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// Apply sets e's provenance from the line naming it, if any.
func (s *Sidecar) Apply(e *event.Event) {
	k := sidecarKey(e.Computer, e.Channel, e.RecordID)
	l, ok := s.lines[k]
	if !ok {
		return
	}
	l.used = true
	s.lines[k] = l
	e.Provenance, e.Observations, e.ModelledFields, e.Context = l.Provenance, l.Observations, l.ModelledFields, l.Context
	if e.RunID == "" {
		e.RunID = l.RunID
	}
}

// Unused is an error naming the first line that named no event read.
func (s *Sidecar) Unused() error {
	var first *sidecarEntry
	for _, l := range s.lines {
		if !l.used && (first == nil || l.n < first.n) {
			first = &l
		}
	}
	if first == nil {
		return nil
	}
	return fmt.Errorf("%s:%d: no event on %s in %s has EventRecordID %d", s.name, first.n, first.Computer, first.Channel, first.RecordID)
}

// ReadEventsFile reads an events file (XML or JSON lines) and, for XML,
// the provenance sidecar beside it when there is one.
func ReadEventsFile(path string) ([]event.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	events, err := ReadEvents(path, f)
	if err != nil || !strings.HasSuffix(path, ".xml") {
		return events, err
	}
	side, err := os.Open(SidecarPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return events, nil
	}
	if err != nil {
		return nil, err
	}
	defer side.Close()
	if err := ApplyProvenance(SidecarPath(path), side, events); err != nil {
		return nil, err
	}
	return events, nil
}
