package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
)

func main() {
	v, _ := os.ReadFile("version.txt")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from go %s (%s)\n", strings.TrimSpace(string(v)), runtime.Version())
	})
	panic(http.ListenAndServe(":"+os.Getenv("PORT"), nil))
}
