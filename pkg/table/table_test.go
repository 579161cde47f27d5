package table

import (
	"bytes"
	"testing"
)

func TestWrite(t *testing.T) {
	var b bytes.Buffer
	err := Write(&b, []string{"LADDR:LPORT", "RADDR:RPORT", "RETRANSMITS"}, [][]string{
		{"10.0.0.1:22", "10.0.0.2:5555", "12"},
		{"[::1]:80", "[::1]:12345", "1234"},
	}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := "LADDR:LPORT  RADDR:RPORT    RETRANSMITS\n" +
		"10.0.0.1:22  10.0.0.2:5555           12\n" +
		"[::1]:80     [::1]:12345           1234\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
}
