// bulkserver sends 2 GiB of zeros to every connection on :9000, for
// bench/bench_network.sh's bulk throughput figure.
package main

import "net"

func main() {
	listener, err := net.Listen("tcp", ":9000")
	if err != nil {
		panic(err)
	}
	chunk := make([]byte, 1<<20)
	for {
		conn, err := listener.Accept()
		if err != nil {
			continue
		}
		go func(conn net.Conn) {
			defer conn.Close()
			for i := 0; i < 2048; i++ {
				if _, err := conn.Write(chunk); err != nil {
					return
				}
			}
		}(conn)
	}
}
