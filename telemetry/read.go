package telemetry

import (
	"io"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/replay"
)

// ReadEvents reads back what WriteXML or WriteJSONL wrote, or any recorded
// telemetry package replay reads (the format is detected from the
// content). The first record that cannot be read is the error, located
// compiler style: "events.jsonl:12: ..." or "events.xml:3:15: ...". Empty
// or blank input is zero events. Use replay.Open to stream a large file.
func ReadEvents(name string, r io.Reader) ([]event.Event, error) {
	return replay.ReadAll(name, r)
}
