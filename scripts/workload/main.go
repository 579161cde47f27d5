// Command workload drives the fixed workloads of scripts/bench.sh and
// measures tool startup. Each workload prints its elapsed seconds on stdout.
//
//	workload openclose N PATH     N open()+close() of PATH
//	workload odirect DEV N        N 4 KiB O_DIRECT reads of DEV
//	workload pingpong N           N round trips over two pipes (2N switches)
//	workload tcpconn N            N loopback TCP connections, 100 bytes each way
//	workload sink ADDR            accept one TCP connection on ADDR, read to EOF
//	workload send ADDR MB         send MB MiB to ADDR over one TCP connection
//	workload startup LINKS CMD... run CMD, print ms until it holds LINKS BPF
//	                              links/perf events, then the peak RSS in KiB
//	                              after one second; stop it with SIGINT
//	workload links PID            print how many links PID holds
//	workload waitlinks PID LINKS  wait until PID holds LINKS links
//	workload hwm PID              print PID's peak RSS (VmHWM) in KiB
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 3 {
		fail("usage: workload openclose|odirect|pingpong|tcpconn|startup ...")
	}
	start := time.Now()
	switch os.Args[1] {
	case "openclose":
		openClose(atoi(os.Args[2]), os.Args[3])
	case "odirect":
		oDirect(os.Args[2], atoi(os.Args[3]))
	case "pingpong":
		pingPong(atoi(os.Args[2]))
	case "tcpconn":
		tcpConn(atoi(os.Args[2]))
	case "sink":
		ln, err := net.Listen("tcp4", os.Args[2])
		if err != nil {
			fail(err.Error())
		}
		c, err := ln.Accept()
		if err != nil {
			fail(err.Error())
		}
		io.Copy(io.Discard, c)
		return
	case "send":
		var c net.Conn
		var err error
		for i := 0; i < 100; i++ { // the sink may not listen yet
			if c, err = net.Dial("tcp4", os.Args[2]); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			fail(err.Error())
		}
		buf := make([]byte, 1<<20)
		for i := 0; i < atoi(os.Args[3]); i++ {
			if _, err := c.Write(buf); err != nil {
				fail(err.Error())
			}
		}
		c.Close()
	case "startup":
		startup(atoi(os.Args[2]), os.Args[3:])
		return
	case "links":
		fmt.Println(links(atoi(os.Args[2])))
		return
	case "waitlinks":
		pid, want := atoi(os.Args[2]), atoi(os.Args[3])
		for i := 0; links(pid) < want; i++ {
			if i > 100000 {
				fail("timed out waiting for links")
			}
			time.Sleep(200 * time.Microsecond)
		}
		return
	case "hwm":
		fmt.Println(hwm(atoi(os.Args[2])))
		return
	default:
		fail("unknown workload " + os.Args[1])
	}
	fmt.Printf("%.4f\n", time.Since(start).Seconds())
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "workload:", msg)
	os.Exit(1)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fail(err.Error())
	}
	return n
}

func openClose(n int, path string) {
	for i := 0; i < n; i++ {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			fail(err.Error())
		}
		unix.Close(fd)
	}
}

func oDirect(dev string, n int) {
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		fail(err.Error())
	}
	buf, _ := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	for i := 0; i < n; i++ {
		if _, err := unix.Pread(fd, buf, int64(i%4096)*4096); err != nil {
			fail(err.Error())
		}
	}
}

func pingPong(n int) {
	var a, b [2]int
	unix.Pipe(a[:])
	unix.Pipe(b[:])
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		buf := make([]byte, 1)
		for i := 0; i < n; i++ {
			unix.Read(a[0], buf)
			unix.Write(b[1], buf)
		}
		close(done)
	}()
	runtime.LockOSThread()
	buf := []byte{1}
	for i := 0; i < n; i++ {
		unix.Write(a[1], buf)
		unix.Read(b[0], buf)
	}
	<-done
}

func tcpConn(n int) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fail(err.Error())
	}
	fmt.Fprintln(os.Stderr, "port", ln.Addr().(*net.TCPAddr).Port)
	go func() {
		buf := make([]byte, 100)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.ReadFull(c, buf)
			c.Write(buf)
			c.Close()
		}
	}()
	buf := make([]byte, 100)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			fail(err.Error())
		}
		c.Write(buf)
		io.ReadFull(c, buf)
		io.Copy(io.Discard, c)
		c.Close()
	}
}

// links counts the BPF links and perf events (the handles of attached
// programs, whichever way the tool attached them) a process holds.
func links(pid int) int {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	n := 0
	for _, fd := range fds {
		t, err := os.Readlink(fd)
		if err == nil && (strings.Contains(t, "bpf_link") || strings.Contains(t, "perf_event")) {
			n++
		}
	}
	return n
}

func startup(want int, argv []string) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fail(err.Error())
	}
	pid := cmd.Process.Pid
	for links(pid) < want {
		if time.Since(start) > 20*time.Second {
			cmd.Process.Kill()
			fail(fmt.Sprintf("%s never held %d links", argv[0], want))
		}
		time.Sleep(200 * time.Microsecond)
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	time.Sleep(time.Second)
	peak := hwm(pid)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	fmt.Printf("%.1f %s\n", ms, peak)
}

// hwm returns the peak resident set size of pid in KiB.
func hwm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strings.Fields(v)[0]
		}
	}
	return "?"
}
