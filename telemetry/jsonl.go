package telemetry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"github.com/t1567001/harness/event"
	"io"
	"strconv"
)

// JSONL System keys, in the order WriteJSONL writes them. EventData names
// in the schemas this package renders (Sysmon 1/3/11/22, Security 4688,
// PowerShell 4104) never collide with these: e.g. 4688's ProcessId and
// Sysmon's ProcessId are distinct from ExecutionProcessID. A colliding
// EventData name would be read back as the System value.
const (
	jsonRunID        = "harness_run_id"
	jsonProvenance   = "harness_provenance"
	jsonObservations = "harness_observations"
	jsonModelled     = "harness_modelled_fields"
	jsonContext      = "harness_context"
	// jsonSimulated is the older mark of a simulated event, still read.
	jsonSimulated    = "harness_simulated"
	jsonEventID      = "EventID"
	jsonProvider     = "Provider"
	jsonProviderGUID = "ProviderGuid"
	jsonVersion      = "Version"
	jsonLevel        = "Level"
	jsonTask         = "Task"
	jsonOpcode       = "Opcode"
	jsonKeywords     = "Keywords"
	jsonTimeCreated  = "TimeCreated"
	jsonRecordID     = "EventRecordID"
	jsonExecPID      = "ExecutionProcessID"
	jsonExecTID      = "ExecutionThreadID"
	jsonChannel      = "Channel"
	jsonComputer     = "Computer"
	jsonUserID       = "UserID"
)

// WriteJSONL writes one JSON object per event per line. Keys come in a
// fixed order (System keys, then EventData in schema order), which map
// marshalling would lose, so the object is written by hand and
// encoding/json only encodes each string.
func WriteJSONL(w io.Writer, events []event.Event) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var line bytes.Buffer
	enc := json.NewEncoder(&line)
	// Command lines are full of & < >; \u0026 would only hurt grep.
	enc.SetEscapeHTML(false)
	str := func(s string) {
		if jsonPlainASCII(s) { // byte-identical to encoding/json, without its allocations
			line.WriteByte('"')
			line.WriteString(s)
			line.WriteByte('"')
			return
		}
		_ = enc.Encode(s) // a string always encodes (bad UTF-8 becomes U+FFFD)
		line.Truncate(line.Len() - 1)
	}
	key := func(k string) {
		if line.Len() > 1 {
			line.WriteByte(',')
		}
		str(k)
		line.WriteByte(':')
	}
	num := func(k string, n int64) {
		key(k)
		line.Write(strconv.AppendInt(line.AvailableBuffer(), n, 10))
	}
	for i := range events {
		e := &events[i]
		line.Reset()
		line.WriteByte('{')
		if e.RunID != "" {
			key(jsonRunID)
			str(e.RunID)
		}
		if e.Provenance != "" {
			key(jsonProvenance)
			str(string(e.Provenance))
		}
		list := func(k string, vs []string) {
			if len(vs) == 0 {
				return
			}
			key(k)
			line.WriteByte('[')
			for i, v := range vs {
				if i > 0 {
					line.WriteByte(',')
				}
				str(v)
			}
			line.WriteByte(']')
		}
		list(jsonObservations, e.Observations)
		list(jsonModelled, e.ModelledFields)
		if e.Context != "" {
			key(jsonContext)
			str(e.Context)
		}
		num(jsonEventID, int64(e.EventID))
		key(jsonProvider)
		str(e.Provider.Name)
		key(jsonProviderGUID)
		str(e.Provider.GUID)
		num(jsonVersion, int64(e.Version))
		num(jsonLevel, int64(e.Level))
		num(jsonTask, int64(e.Task))
		num(jsonOpcode, int64(e.Opcode))
		key(jsonKeywords)
		str(e.Keywords)
		key(jsonTimeCreated)
		line.WriteByte('"')
		line.Write(appendXMLSystemTime(line.AvailableBuffer(), e.TimeCreated))
		line.WriteByte('"')
		key(jsonRecordID)
		line.Write(strconv.AppendUint(line.AvailableBuffer(), e.RecordID, 10))
		num(jsonExecPID, int64(e.ExecutionPID))
		num(jsonExecTID, int64(e.ExecutionTID))
		key(jsonChannel)
		str(e.Channel)
		key(jsonComputer)
		str(e.Computer)
		if e.UserID != "" {
			key(jsonUserID)
			str(e.UserID)
		}
		for _, f := range e.Data {
			key(f.Name)
			str(f.Value)
		}
		line.WriteString("}\n")
		if _, err := bw.Write(line.Bytes()); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// jsonPlainASCII reports whether s is printable ASCII that encoding/json
// (HTML escaping off) would write unchanged between quotes.
func jsonPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
