package evtxwrite_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/t1567001/harness/internal/evtxwrite"
	"github.com/t1567001/harness/replay"
)

// Event XML, as the replay reads it, converted to EVTX and read back.
func Example() {
	const xml = `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>
<Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385F-C22A-43E0-BF4C-06F5698FFBD9}'/><EventID>1</EventID>
<Version>5</Version><Level>4</Level><Task>1</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords>
<TimeCreated SystemTime='2024-05-01T12:00:00.1234567Z'/><EventRecordID>42</EventRecordID>
<Execution ProcessID='2912' ThreadID='3424'/><Channel>Microsoft-Windows-Sysmon/Operational</Channel>
<Computer>WS-FINANCE-07.corp.local</Computer><Security UserID='S-1-5-18'/></System>
<EventData><Data Name='ProcessId'>4242</Data><Data Name='CommandLine'>git push origin main</Data><Data Name='LogonId'>0x8d4ac</Data></EventData></Event>`
	events, err := replay.ReadAll("events.xml", strings.NewReader(xml))
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "evtxwrite-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	f, err := os.Create(filepath.Join(dir, "events.evtx"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	w, err := evtxwrite.NewWriter(f)
	if err != nil {
		log.Fatal(err)
	}
	for i := range events {
		if err := w.Write(&events[i]); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		log.Fatal(err)
	}
	back, err := replay.ReadAll("events.evtx", f)
	if err != nil {
		log.Fatal(err)
	}
	ev := back[0]
	fmt.Println(ev.EventID, ev.RecordID, ev.Computer, ev.TimeCreated.Format("15:04:05.0000000"))
	fmt.Println(ev.Data)
	// Output:
	// 1 42 WS-FINANCE-07.corp.local 12:00:00.1234567
	// [{ProcessId 4242} {CommandLine git push origin main} {LogonId 0x8d4ac}]
}
