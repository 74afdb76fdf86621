package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dnsTTL is the TTL of the sinkhole's answers: short, as GitHub's own.
const dnsTTL = 60

// ServeDNS runs the DNS sinkhole on pc (UDP) and l (TCP) until ctx ends:
// it answers a served name with its addresses from Config.Addresses,
// NXDOMAIN for every other name, and records every query in the ledger
// (KindDNS). It never forwards a query anywhere. Either of pc and l may be
// nil.
func (e *Emulator) ServeDNS(ctx context.Context, pc net.PacketConn, l net.Listener) error {
	origin := originOf(ctx)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) { e.answerDNS(w, req, origin) })
	var servers []*dns.Server
	if pc != nil {
		servers = append(servers, &dns.Server{PacketConn: pc, Handler: h})
	}
	if l != nil {
		servers = append(servers, &dns.Server{Listener: l, Handler: h, ReadTimeout: 5 * time.Second})
	}
	errs := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errs <- s.ActivateAndServe() }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	for _, s := range servers {
		_ = s.Shutdown()
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("emulator: DNS: %w", err)
	}
	return nil
}

func (e *Emulator) answerDNS(w dns.ResponseWriter, req *dns.Msg, origin string) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	if len(req.Question) == 0 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.TrimSuffix(strings.ToLower(q.Name), ".")
	addrs, served := e.cfg.Addresses[name]
	if !served && ServedName(name) != "" {
		addrs, served = e.cfg.Addresses[ServedName(name)]
	}
	var answers []string
	switch {
	case !served:
		m.Rcode = dns.RcodeNameError
	case q.Qtype == dns.TypeA:
		for _, a := range addrs {
			if !a.Is4() {
				continue
			}
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: dnsTTL},
				A:   a.AsSlice(),
			})
			answers = append(answers, a.String())
		}
	}
	entry := Entry{Kind: KindDNS, Time: time.Now().UTC(), Host: name, Origin: origin, DNS: &DNSQuery{
		Name: name, Type: dnsType(q.Qtype), Proto: w.RemoteAddr().Network(),
		Rcode: dns.RcodeToString[m.Rcode], Answers: answers,
	}}
	entry.ClientIP, entry.ClientPort = addrPort(w.RemoteAddr())
	entry.DestIP, entry.DestPort = addrPort(w.LocalAddr())
	// Recorded before the answer leaves, so a client that got it finds it
	// in the ledger.
	e.ledger.Add(entry)
	_ = w.WriteMsg(m)
}

func dnsType(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}

func addrPort(a net.Addr) (string, int) {
	if a == nil {
		return "", 0
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return splitAddr(a.String())
	}
	return ap.Addr().Unmap().String(), int(ap.Port())
}
