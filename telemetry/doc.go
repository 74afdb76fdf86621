// Package telemetry turns what the sensor observed and what the emulator's
// ledger recorded into the Windows telemetry a defender would see: Sysmon
// Event ID 1, 3, 11 and 22, Security 4688 and PowerShell 4104, rendered
// under a host profile (host name, user, the Windows image of each Linux
// executable, the parent of the atomic's first process), as events of the
// leaf event model (package event). Events are written as Windows Event
// XML, exactly as Sysmon and the Security log write it, and as JSON lines
// with the same field names; both read back for replay.
package telemetry
