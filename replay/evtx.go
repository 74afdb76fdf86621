package replay

import (
	"errors"
	"io"

	"github.com/t1567001/harness/event"
)

type evtxDecoder struct{ file string }

func newEVTXDecoder(file string, _ io.Reader) *evtxDecoder { return &evtxDecoder{file: file} }

func (d *evtxDecoder) next() (event.Event, error) {
	return event.Event{}, errors.New(d.file + ": EVTX is not read yet")
}
