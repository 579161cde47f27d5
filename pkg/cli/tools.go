package cli

// Tools lists every tool of this bpftk build, space-separated; the Makefile
// stamps it from the tools/ directories so that bpftk-doctor knows its
// siblings. Empty in plain `go build` binaries.
var Tools = ""
