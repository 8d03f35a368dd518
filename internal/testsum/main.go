// Command testsum reads `go test -json` output on standard input, prints
// what `go test` would print (package results, and the output of failing
// tests), and ends with one summary line: "tests: N passed, N failed,
// N skipped". It exits non-zero when a test or a package failed, so that
// .ci/run can show a count without running the suite twice.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	os.Exit(run(os.Stdin, os.Stdout))
}

func run(in io.Reader, out io.Writer) int {
	var passed, failed, skipped, badPkgs int
	var skips []string               // listed, so that a skip CI should not allow is seen
	outputs := map[string][]string{} // package/test -> output lines, kept until the test ends
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			fmt.Fprintln(out, string(line)) // build errors come as plain text
			continue
		}
		key := e.Package + "\x00" + e.Test
		switch e.Action {
		case "output":
			outputs[key] = append(outputs[key], e.Output)
		case "build-output":
			fmt.Fprint(out, e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" {
				// Package result: print it the way go test does.
				if e.Action == "fail" {
					badPkgs++
					for _, l := range outputs[key] {
						fmt.Fprint(out, l)
					}
				} else {
					for _, l := range outputs[key] {
						if strings.HasPrefix(l, "ok ") || strings.HasPrefix(l, "?") || strings.HasPrefix(l, "---") {
							fmt.Fprint(out, l)
						}
					}
				}
				delete(outputs, key)
				continue
			}
			switch e.Action {
			case "pass":
				passed++
			case "fail":
				failed++
				for _, l := range outputs[key] {
					fmt.Fprint(out, l)
				}
			case "skip":
				skipped++
				skips = append(skips, e.Package+" "+e.Test)
			}
			delete(outputs, key)
		}
	}
	for _, s := range skips {
		fmt.Fprintf(out, "skipped: %s\n", s)
	}
	fmt.Fprintf(out, "tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 || badPkgs > 0 {
		return 1
	}
	return 0
}
