// hello is the web server from the article gocrate grew out of: it answers
// "Hello, World!" on :8080. `hello once` prints the greeting and exits, which
// is what start-up benchmarks time.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "once" {
		fmt.Println("Hello, World!")
		return
	}

	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, World!")
	})

	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
