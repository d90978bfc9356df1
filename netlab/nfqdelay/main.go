// nfqdelay holds every packet of an NFQUEUE queue for a fixed delay, then accepts it: a one-way
// link delay for kernels built without sch_netem (part of netlab; stdlib only).
//
//	iptables -t mangle -A POSTROUTING -o eth0 -j NFQUEUE --queue-num 7 --queue-bypass
//	nfqdelay -queue 7 -delay 40ms
//
// Packets leave in arrival order, each `delay` after it arrived. It prints "ready" once bound.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"
)

const (
	netlinkNetfilter = 12
	subsysQueue      = 3
	msgPacket        = 0
	msgVerdict       = 1
	msgConfig        = 2
	cfgCmd           = 1
	cfgParams        = 2
	cfgQueueMaxlen   = 3
	cmdBind          = 1
	copyMeta         = 1
	attrPacketHdr    = 1
	attrVerdictHdr   = 2
	nfAccept         = 1
	nlmFRequest      = 1
	nlmFAck          = 4
	nlmsgError       = 2
)

type pending struct {
	id  uint32
	due time.Time
}

func attr(typ uint16, payload []byte) []byte {
	l := 4 + len(payload)
	b := make([]byte, (l+3)&^3)
	binary.NativeEndian.PutUint16(b[0:], uint16(l))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], payload)
	return b
}

func message(typ uint16, flags uint16, seq uint32, queue uint16, attrs ...[]byte) []byte {
	body := []byte{0, 0, 0, 0} // nfgenmsg: family AF_UNSPEC, version 0, res_id (queue, big endian)
	binary.BigEndian.PutUint16(body[2:], queue)
	for _, a := range attrs {
		body = append(body, a...)
	}
	b := make([]byte, 16+len(body))
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], subsysQueue<<8|typ)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	copy(b[16:], body)
	return b
}

func main() {
	queue := flag.Uint("queue", 0, "NFQUEUE number")
	delay := flag.Duration("delay", 0, "delay per packet")
	flag.Parse()
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW, netlinkNetfilter)
	if err != nil {
		fmt.Fprintln(os.Stderr, "socket:", err)
		os.Exit(1)
	}
	kernel := &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		fmt.Fprintln(os.Stderr, "bind:", err)
		os.Exit(1)
	}
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 16<<20)
	q := uint16(*queue)
	params := make([]byte, 5)
	binary.BigEndian.PutUint32(params[0:], 0)
	params[4] = copyMeta
	maxlen := make([]byte, 4)
	binary.BigEndian.PutUint32(maxlen, 65536)
	for i, m := range [][]byte{
		message(msgConfig, nlmFRequest|nlmFAck, 1, q, attr(cfgCmd, []byte{cmdBind, 0, 0, 0})),
		message(msgConfig, nlmFRequest|nlmFAck, 2, q, attr(cfgParams, params)),
		message(msgConfig, nlmFRequest|nlmFAck, 3, q, attr(cfgQueueMaxlen, maxlen)),
	} {
		if err := syscall.Sendto(fd, m, 0, kernel); err != nil {
			fmt.Fprintln(os.Stderr, "config", i, ":", err)
			os.Exit(1)
		}
	}
	ch := make(chan pending, 1<<16)
	go func() {
		hdr := make([]byte, 8)
		for p := range ch {
			if d := time.Until(p.due); d > 0 {
				time.Sleep(d)
			}
			binary.BigEndian.PutUint32(hdr[0:], nfAccept)
			binary.BigEndian.PutUint32(hdr[4:], p.id)
			_ = syscall.Sendto(fd, message(msgVerdict, nlmFRequest, 0, q, attr(attrVerdictHdr, hdr)), 0, kernel)
		}
	}()
	fmt.Println("ready")
	buf := make([]byte, 1<<16)
	for {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			if err == syscall.ENOBUFS || err == syscall.EINTR {
				continue // the kernel dropped packets we were too slow for; they count as loss
			}
			fmt.Fprintln(os.Stderr, "recv:", err)
			os.Exit(1)
		}
		now := time.Now()
		for off := 0; off+16 <= n; {
			l := int(binary.NativeEndian.Uint32(buf[off:]))
			typ := binary.NativeEndian.Uint16(buf[off+4:])
			if l < 16 || off+l > n {
				break
			}
			if typ == nlmsgError {
				if code := int32(binary.NativeEndian.Uint32(buf[off+16:])); code != 0 {
					fmt.Fprintln(os.Stderr, "netlink error:", syscall.Errno(-code))
					os.Exit(1)
				}
			} else if typ == subsysQueue<<8|msgPacket {
				for a := off + 20; a+4 <= off+l; {
					al := int(binary.NativeEndian.Uint16(buf[a:]))
					at := binary.NativeEndian.Uint16(buf[a+2:]) & 0x7fff
					if al < 4 {
						break
					}
					if at == attrPacketHdr && al >= 8 {
						ch <- pending{id: binary.BigEndian.Uint32(buf[a+4:]), due: now.Add(*delay)}
					}
					a += (al + 3) &^ 3
				}
			}
			off += (l + 3) &^ 3
		}
	}
}
