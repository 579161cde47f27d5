package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpftk/bpftk/pkg/testutil"
)

// The workload: this test binary run again twice, as a server and as a
// client, two processes with known PIDs. Each connection of the plan moves
// a known number of bytes each way, is held open a known time by whichever
// side closes first, and is then closed by that side.
const roleEnv = "TCPLIFE_TEST_ROLE"

type conn struct {
	req, resp    int  // bytes client -> server, server -> client
	serverCloses bool // the server closes first (else the client)
}

var plan = []conn{
	{req: 1000, resp: 3333, serverCloses: false},
	{req: 5000, resp: 70001, serverCloses: true},
	{req: 1<<20 + 123, resp: 7, serverCloses: false},
	{req: 1, resp: 1500000, serverCloses: true},
}

const hold = 150 * time.Millisecond

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "server":
		server(os.Args[1])
	case "client":
		client(os.Args[1], os.Args[2])
	default:
		os.Exit(m.Run())
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// finish ends one connection: the closing side holds it, then closes; the
// other side reads to EOF, then closes.
func finish(c net.Conn, closesFirst bool) {
	if closesFirst {
		time.Sleep(hold)
	} else {
		io.Copy(io.Discard, c)
	}
	c.Close()
}

func server(addr string) {
	ln, err := net.Listen(strings.SplitN(addr, "|", 2)[0], strings.SplitN(addr, "|", 2)[1])
	must(err)
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	for _, p := range plan {
		c, err := ln.Accept()
		must(err)
		_, err = io.ReadFull(c, make([]byte, p.req))
		must(err)
		_, err = c.Write(make([]byte, p.resp))
		must(err)
		finish(c, p.serverCloses)
	}
}

func client(network, addr string) {
	for _, p := range plan {
		c, err := net.Dial(network, addr)
		must(err)
		fmt.Println(c.LocalAddr().(*net.TCPAddr).Port)
		_, err = c.Write(make([]byte, p.req))
		must(err)
		_, err = io.ReadFull(c, make([]byte, p.resp))
		must(err)
		finish(c, !p.serverCloses)
	}
}

// workload runs the server and the client over network ("tcp4" on
// 127.0.0.1 or "tcp6" on ::1) and returns their PIDs, the server port and
// the client's port of each connection, in plan order.
type workload struct {
	serverPID, clientPID int
	serverPort           int
	clientPorts          []int
}

func runWorkload(t *testing.T, network string) workload {
	t.Helper()
	host := "127.0.0.1"
	if network == "tcp6" {
		host = "::1"
	}
	srv := exec.Command(os.Args[0], network+"|"+net.JoinHostPort(host, "0"))
	srv.Env = append(os.Environ(), roleEnv+"=server")
	srv.Stderr = os.Stderr
	out, _ := srv.StdoutPipe()
	must(srv.Start())
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	w := workload{serverPID: srv.Process.Pid}
	w.serverPort, _ = strconv.Atoi(strings.TrimSpace(line))

	cl := exec.Command(os.Args[0], network, net.JoinHostPort(host, strconv.Itoa(w.serverPort)))
	cl.Env = append(os.Environ(), roleEnv+"=client")
	cl.Stderr = os.Stderr
	b, err := cl.Output()
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	w.clientPID = cl.Process.Pid
	for _, f := range strings.Fields(string(b)) {
		p, _ := strconv.Atoi(f)
		w.clientPorts = append(w.clientPorts, p)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("server: %v", err)
	}
	if len(w.clientPorts) != len(plan) {
		t.Fatalf("client made %d connections", len(w.clientPorts))
	}
	// Let the last closes (TIME_WAIT to CLOSE) reach the tracepoint.
	time.Sleep(200 * time.Millisecond)
	return w
}

type session struct {
	PID        int    `json:"pid"`
	Comm       string `json:"comm"`
	Owner      string `json:"owner"`
	PeerPID    int    `json:"peer_pid"`
	PeerComm   string `json:"peer_comm"`
	IP         int    `json:"ip"`
	Laddr      string `json:"laddr"`
	Lport      int    `json:"lport"`
	Raddr      string `json:"raddr"`
	Rport      int    `json:"rport"`
	BytesTX    uint64 `json:"bytes_tx"`
	BytesRX    uint64 `json:"bytes_rx"`
	DurationUS uint64 `json:"duration_us"`
}

// sessions parses --json output, keeping the sessions of the workload.
func sessions(t *testing.T, res testutil.Result, w workload) map[[2]int]session {
	t.Helper()
	ours := map[int]bool{w.serverPort: true}
	for _, p := range w.clientPorts {
		ours[p] = true
	}
	got := map[[2]int]session{}
	for _, line := range res.Lines() {
		if strings.HasPrefix(line, `{"summary"`) {
			continue
		}
		var s session
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("bad JSON %q: %v", line, err)
		}
		if ours[s.Lport] && ours[s.Rport] {
			if _, dup := got[[2]int{s.Lport, s.Rport}]; dup {
				t.Errorf("session %d->%d reported twice", s.Lport, s.Rport)
			}
			got[[2]int{s.Lport, s.Rport}] = s
		}
	}
	return got
}

var comm = func() string {
	c := filepath.Base(os.Args[0])
	if len(c) > 15 {
		c = c[:15]
	}
	return c
}()

func checkSide(t *testing.T, s session, ok bool, pid, peer, ip int, tx, rx int) {
	t.Helper()
	if !ok {
		t.Errorf("session missing (want pid %d)", pid)
		return
	}
	if s.PID != pid || s.Comm != comm || s.Owner != "socket" {
		t.Errorf("%d->%d: pid %d comm %q owner %q, want pid %d comm %q owner socket", s.Lport, s.Rport, s.PID, s.Comm, s.Owner, pid, comm)
	}
	if s.PeerPID != peer || s.PeerComm != comm {
		t.Errorf("%d->%d: peer pid %d comm %q, want %d %q", s.Lport, s.Rport, s.PeerPID, s.PeerComm, peer, comm)
	}
	if s.IP != ip || s.BytesTX != uint64(tx) || s.BytesRX != uint64(rx) {
		t.Errorf("%d->%d: ip %d tx %d rx %d, want ip %d tx %d rx %d", s.Lport, s.Rport, s.IP, s.BytesTX, s.BytesRX, ip, tx, rx)
	}
	if time.Duration(s.DurationUS)*time.Microsecond < hold {
		t.Errorf("%d->%d: lasted %d us, the test held it open %v", s.Lport, s.Rport, s.DurationUS, hold)
	}
}

func TestEverySessionBothSides(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "tcplife")
	for _, c := range []struct {
		network string
		ip      int
	}{{"tcp4", 4}, {"tcp6", 6}} {
		t.Run(c.network, func(t *testing.T) {
			p := testutil.Start(t, bin, "--json")
			w := runWorkload(t, c.network)
			got := sessions(t, p.Stop(), w)
			if len(got) != 2*len(plan) {
				t.Errorf("%d sessions reported, want %d (two per connection)", len(got), 2*len(plan))
			}
			for i, pl := range plan {
				cp := w.clientPorts[i]
				s, ok := got[[2]int{cp, w.serverPort}]
				checkSide(t, s, ok, w.clientPID, w.serverPID, c.ip, pl.req, pl.resp)
				s, ok = got[[2]int{w.serverPort, cp}]
				checkSide(t, s, ok, w.serverPID, w.clientPID, c.ip, pl.resp, pl.req)
			}
		})
	}
}

func TestTextColumns(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "tcplife")
	p := testutil.Start(t, bin, "-T")
	w := runWorkload(t, "tcp4")
	res := p.Stop()
	lines := res.Lines()
	if len(lines) == 0 || lines[0] != "TIME     PID     COMM             LADDR           LPORT RADDR           RPORT TX_KB  RX_KB  MS" {
		t.Fatalf("header %q", lines)
	}
	seen := 0
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 10 {
			t.Fatalf("line %q: want 10 columns", l)
		}
		lport, _ := strconv.Atoi(f[4])
		rport, _ := strconv.Atoi(f[6])
		for i, pl := range plan {
			var pid, tx, rx int
			switch {
			case lport == w.clientPorts[i] && rport == w.serverPort:
				pid, tx, rx = w.clientPID, pl.req, pl.resp
			case lport == w.serverPort && rport == w.clientPorts[i]:
				pid, tx, rx = w.serverPID, pl.resp, pl.req
			default:
				continue
			}
			seen++
			kb := func(n int) string { return strconv.FormatFloat(float64(n)/1024, 'f', 2, 64) }
			ms, _ := strconv.ParseFloat(f[9], 64)
			if f[1] != strconv.Itoa(pid) || f[2] != comm || f[7] != kb(tx) || f[8] != kb(rx) || ms < float64(hold.Milliseconds()) {
				t.Errorf("line %q: want pid %d tx %s rx %s ms >= %d", l, pid, kb(tx), kb(rx), hold.Milliseconds())
			}
		}
	}
	if seen != 2*len(plan) {
		t.Fatalf("%d lines for the workload, want %d\n%s", seen, 2*len(plan), res.Stdout)
	}
}

// TestFamilyFilters: -4 drops an IPv6 workload, -6 keeps all of it.
func TestFamilyFilters(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "tcplife")
	for _, c := range []struct {
		flag string
		want int
	}{{"-4", 0}, {"-6", 2 * len(plan)}} {
		p := testutil.Start(t, bin, c.flag, "--json")
		w := runWorkload(t, "tcp6")
		if got := sessions(t, p.Stop(), w); len(got) != c.want {
			t.Errorf("%s over IPv6: %d sessions, want %d", c.flag, len(got), c.want)
		}
	}
}

// TestPIDAndPortFilters: this test process listens and connects three
// times; another process (bash) connects three times to the same port.
// That is 12 sessions: 3 client sides of ours, 3 of bash's, and 6 server
// sides, all ours (we accepted them).
func TestPIDAndPortFilters(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "tcplife")
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash for its /dev/tcp connections")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	run := func(args ...string) []session {
		t.Helper()
		p := testutil.Start(t, bin, append(args, "--json")...)
		for i := 0; i < 3; i++ {
			c, err := net.Dial("tcp4", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte("hello"))
			c.Close()
		}
		script := fmt.Sprintf("for i in 1 2 3; do exec 3<>/dev/tcp/127.0.0.1/%d; exec 3>&-; done", port)
		if out, err := exec.Command("bash", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("bash connections: %v %s", err, out)
		}
		time.Sleep(300 * time.Millisecond)
		var out []session
		for _, line := range p.Stop().Lines() {
			var s session
			if json.Unmarshal([]byte(line), &s) == nil && (s.Lport == port || s.Rport == port) {
				out = append(out, s)
			}
		}
		return out
	}
	self := os.Getpid()
	check := func(args []string, want int, keep func(session) bool) {
		t.Helper()
		got := run(args...)
		if len(got) != want {
			t.Errorf("%v: %d sessions, want %d: %+v", args, len(got), want, got)
		}
		for _, s := range got {
			if !keep(s) {
				t.Errorf("%v: session %+v should have been filtered out", args, s)
			}
		}
	}
	check(nil, 12, func(session) bool { return true })
	check([]string{"-p", strconv.Itoa(self)}, 9, func(s session) bool { return s.PID == self })
	check([]string{"-L", strconv.Itoa(port)}, 6, func(s session) bool { return s.Lport == port })
	check([]string{"-D", "1," + strconv.Itoa(port)}, 6, func(s session) bool { return s.Rport == port })
}

func TestUsageErrors(t *testing.T) {
	bin := testutil.BuildTool(t, "tcplife")
	for _, args := range [][]string{{"-4", "-6"}, {"-L", "0"}, {"-D", "x"}, {"-p", "-1"}, {"--bogus"}} {
		testutil.SingleLineError(t, testutil.Run(t, bin, args...), "tcplife", 2)
	}
}
