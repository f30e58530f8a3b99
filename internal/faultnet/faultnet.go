// Package faultnet puts a real fault-injecting TCP proxy (Shopify's
// toxiproxy, used as a library in-process) between a client and a server, so
// tests can add latency, reset connections, blackhole traffic or cut the
// network without touching the server process.
package faultnet

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

var seq atomic.Int64

// Proxy is a fault proxy listening on a loopback port and forwarding to an
// upstream address.
type Proxy struct {
	t     testing.TB
	proxy *toxiproxy.Proxy
	n     atomic.Int64 // toxic name counter
}

// New starts a fault proxy on 127.0.0.1 in front of upstream (which must be
// a loopback address) and stops it at t.Cleanup.
func New(t testing.TB, upstream string) *Proxy {
	t.Helper()
	if !strings.HasPrefix(upstream, "127.") && !strings.HasPrefix(upstream, "[::1]") &&
		!strings.HasPrefix(upstream, "localhost:") {
		t.Fatalf("faultnet: upstream %q is not a loopback address", upstream)
	}
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	name := fmt.Sprintf("faultnet-%d", seq.Add(1))
	p := toxiproxy.NewProxy(server, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("faultnet: starting proxy: %v", err)
	}
	fp := &Proxy{t: t, proxy: p}
	t.Cleanup(p.Stop)
	return fp
}

// Addr is the proxy's listening address; clients dial it instead of the
// upstream.
func (p *Proxy) Addr() string { return p.proxy.Listen }

func (p *Proxy) add(kind, stream string, attrs string) {
	p.t.Helper()
	name := fmt.Sprintf("%s-%s-%d", kind, stream, p.n.Add(1))
	body := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, name, kind, stream, attrs)
	if _, err := p.proxy.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
		p.t.Fatalf("faultnet: adding %s toxic: %v", kind, err)
	}
}

// Latency delays data in both directions by d.
func (p *Proxy) Latency(d time.Duration) {
	ms := d.Milliseconds()
	p.add("latency", "downstream", fmt.Sprintf(`{"latency":%d}`, ms))
	p.add("latency", "upstream", fmt.Sprintf(`{"latency":%d}`, ms))
}

// Blackhole stops all data in both directions without closing anything: the
// peers see neither data nor a reset, as with a dead host or a dropped
// route. New connections are accepted and then hang.
func (p *Proxy) Blackhole() {
	p.add("timeout", "upstream", `{"timeout":0}`)
	p.add("timeout", "downstream", `{"timeout":0}`)
}

// ResetPeer resets every connection (TCP RST) as soon as data arrives from
// the client, and new ones likewise.
func (p *Proxy) ResetPeer() {
	p.add("reset_peer", "upstream", `{"timeout":0}`)
}

// Cut closes every open connection and refuses new ones until Restore.
func (p *Proxy) Cut() { p.proxy.Stop() }

// Restore accepts connections again after Cut, on the same address.
func (p *Proxy) Restore() {
	p.t.Helper()
	if err := p.proxy.Start(); err != nil {
		p.t.Fatalf("faultnet: restarting proxy: %v", err)
	}
}

// Clear removes every fault; connections blackholed so far stay broken, new
// ones work.
func (p *Proxy) Clear() {
	p.proxy.Toxics.ResetToxics(context.Background())
}
