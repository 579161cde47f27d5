package main

//go:generate go tool bpf2go -target bpfel -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types -type event opensnoop ../../bpf/opensnoop.bpf.c -- -I../../bpf/include
