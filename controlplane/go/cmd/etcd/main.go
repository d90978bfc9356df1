// Command etcd is the upstream etcd server, linked from the Go module proxy for fedmesh's
// integration tests. Test infrastructure only.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
