package main

//go:generate go tool bpf2go -target bpfel -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types -type event tcplife ../../bpf/tcplife.bpf.c -- -I../../bpf/include
