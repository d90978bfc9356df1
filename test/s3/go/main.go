// s3-server: an in-memory S3-compatible server (gofakes3) for the LC's dataset tests. It prints
// "listening on HOST:PORT" once it accepts connections and runs until killed.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	flag.Parse()
	faker := gofakes3.New(s3mem.New())
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "listening on %s\n", ln.Addr().String())
	log.Fatal(http.Serve(ln, faker.Server()))
}
