package main

//go:generate go tool bpf2go -target bpfel -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types -type hist_key biolatency ../../bpf/biolatency.bpf.c -- -I../../bpf/include
