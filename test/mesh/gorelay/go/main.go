// A stock go-libp2p circuit-v2 relay, as EdgeMesh users run one: TCP, noise, yamux, a PSK v1
// private network, no per-circuit limit. Test infrastructure for fedmesh (test/mesh/gorelay):
// nothing of fedmesh runs here. Prints one JSON line {"peer":...,"addrs":[...]} once listening,
// then serves until SIGTERM/SIGINT.
package main

import (
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

func main() {
	listen := flag.String("listen", "/ip4/0.0.0.0/tcp/20006", "listen multiaddr")
	pskFile := flag.String("psk", "", "PSK v1 swarm key file")
	keyFile := flag.String("key", "", "identity key file (created when missing)")
	flag.Parse()
	if err := run(*listen, *pskFile, *keyFile); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func identity(path string) (crypto.PrivKey, error) {
	if path != "" {
		if b, err := os.ReadFile(path); err == nil {
			return crypto.UnmarshalPrivateKey(b)
		}
	}
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil || path == "" {
		return k, err
	}
	b, err := crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return k, os.WriteFile(path, b, 0o600)
}

func run(listen, pskFile, keyFile string) error {
	f, err := os.Open(pskFile)
	if err != nil {
		return err
	}
	psk, err := pnet.DecodeV1PSK(f)
	f.Close()
	if err != nil {
		return err
	}
	key, err := identity(keyFile)
	if err != nil {
		return err
	}
	h, err := libp2p.New(
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(listen),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.PrivateNetwork(psk),
		libp2p.DisableRelay(),
		libp2p.ForceReachabilityPublic(),
	)
	if err != nil {
		return err
	}
	defer h.Close()
	// No per-circuit limit, and room for a test's worth of peers behind one NAT.
	res := relay.DefaultResources()
	res.MaxReservationsPerIP = 64
	res.MaxCircuits = 256
	if _, err := relay.New(h, relay.WithInfiniteLimits(), relay.WithResources(res)); err != nil {
		return err
	}
	addrs := []string{}
	for _, a := range h.Addrs() {
		addrs = append(addrs, a.String())
	}
	out, _ := json.Marshal(map[string]any{"peer": h.ID().String(), "addrs": addrs})
	fmt.Println(string(out))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return nil
}
