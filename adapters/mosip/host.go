package mosip

import (
	"net"
	"os"
)

// hostInfo is what the packet's audit entry says about the machine that
// made the packet.
type hostInfo struct{ name, ip string }

// localHost reads the host name and the first non-loopback address of
// this machine (no network calls).
func localHost() hostInfo {
	h := hostInfo{name: "crvshub", ip: "127.0.0.1"}
	if n, err := os.Hostname(); err == nil && n != "" {
		h.name = n
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return h
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			h.ip = ipn.IP.String()
			break
		}
	}
	return h
}
