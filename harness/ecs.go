package harness

import (
	"fmt"
	"io"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/telemetry"
	"github.com/t1567001/harness/validate"
)

// ECSConverter reads events as ECS documents for Elastic rules, each under
// the host profile of its context (profiles nil: every shipped context).
func ECSConverter(profiles []*telemetry.Profile) (validate.ECSConverter, error) {
	m, profiles, err := ecsSetup(profiles)
	if err != nil {
		return nil, err
	}
	return m.Converter(profiles), nil
}

// WriteECS writes events as ECS JSON lines (events.ecs.jsonl).
func WriteECS(w io.Writer, events []event.Event, profiles []*telemetry.Profile) error {
	m, profiles, err := ecsSetup(profiles)
	if err != nil {
		return err
	}
	return m.WriteECS(w, events, telemetry.ProfilePicker(profiles))
}

func ecsSetup(profiles []*telemetry.Profile) (*telemetry.ECSMapping, []*telemetry.Profile, error) {
	m, err := telemetry.LoadECSMapping(nil)
	if err != nil {
		return nil, nil, err
	}
	if profiles == nil {
		if profiles, err = Contexts(nil); err != nil {
			return nil, nil, fmt.Errorf("ecs: %w", err)
		}
	}
	return m, profiles, nil
}
