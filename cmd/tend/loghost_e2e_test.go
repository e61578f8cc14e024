package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKmsg writes a line to /dev/kmsg, as programs and the kernel do:
// `tend logs -k` shows it.
func TestKmsg(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("writing to /dev/kmsg needs root")
	}
	in := startTend(t, writeUnits(t, map[string]string{"default.target": "[Unit]\n"}), "--kmsg")
	wait := in.followLogs("-k")
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := os.WriteFile("/dev/kmsg", []byte("<4>tendtest: hello kernel log "+nonce+"\n"), 0); err != nil {
		t.Skipf("cannot write /dev/kmsg here: %v", err)
	}
	wait("hello kernel log " + nonce)
	out := in.mustCtl("logs", "-k", "-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=tendtest")
	if !strings.Contains(out, `"_TRANSPORT":"kernel"`) || !strings.Contains(out, `"PRIORITY":"4"`) {
		t.Fatalf("kernel entry fields:\n%s", out)
	}
}

// testCA makes a CA and a certificate it signed for 127.0.0.1, written as
// PEM files in dir: ca.pem, NAME.pem and NAME.key for each name.
func testCA(t *testing.T, dir string, names ...string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tend test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER)
	for i, name := range names {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
		kb, _ := x509.MarshalPKCS8PrivateKey(key)
		writePEM(t, filepath.Join(dir, name+".key"), "PRIVATE KEY", kb)
	}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLogHost runs rsyslog as the sender: its omfwd actions forward to a
// tend LOGHOST over UDP, TCP (octet-counted and LF framing) and TLS with
// a client certificate; every message arrives with rsyslog's host name,
// the source address and the original timestamp, and `tend logs --host`
// selects them.
func TestLogHost(t *testing.T) {
	rsyslogd, err := exec.LookPath("rsyslogd")
	if err != nil {
		t.Skip("rsyslogd not installed")
	}
	if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_ossl.so"); len(m) == 0 {
		t.Skip("rsyslog's OpenSSL driver (Debian package rsyslog-openssl) is not installed")
	}
	pki := t.TempDir()
	testCA(t, pki, "server", "client")
	ports := [4]int{freePort(t), freePort(t), freePort(t), freePort(t)}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	in := startTend(t, writeUnits(t, map[string]string{"default.target": "[Unit]\n"}),
		"--syslog-listen", "udp://"+addr(0), "--syslog-listen", "tcp://"+addr(1), "--syslog-listen", "tls://"+addr(2),
		"--syslog-tls-cert", filepath.Join(pki, "server.pem"), "--syslog-tls-key", filepath.Join(pki, "server.key"),
		"--syslog-tls-client-ca", filepath.Join(pki, "ca.pem"))
	wait := in.followLogs("--host", "rshost")

	work := t.TempDir()
	conf := filepath.Join(work, "rsyslog.conf")
	os.WriteFile(conf, []byte(`global(workDirectory="`+work+`" localHostname="rshost"
  DefaultNetstreamDriverCAFile="`+pki+`/ca.pem"
  DefaultNetstreamDriverCertFile="`+pki+`/client.pem"
  DefaultNetstreamDriverKeyFile="`+pki+`/client.key")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="`+work+`/log" CreatePath="on")
if $msg contains "via-udp" then action(type="omfwd" target="127.0.0.1" port="`+strconv.Itoa(ports[0])+`" protocol="udp" template="RSYSLOG_SyslogProtocol23Format")
if $msg contains "via-tcp-lf" then action(type="omfwd" target="127.0.0.1" port="`+strconv.Itoa(ports[1])+`" protocol="tcp")
if $msg contains "via-tcp-count" then action(type="omfwd" target="127.0.0.1" port="`+strconv.Itoa(ports[1])+`" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
if $msg contains "via-tls" then action(type="omfwd" target="127.0.0.1" port="`+strconv.Itoa(ports[2])+`" protocol="tcp"
  StreamDriver="ossl" StreamDriverMode="1" StreamDriverAuthMode="x509/certvalid" template="RSYSLOG_SyslogProtocol23Format")
`), 0o644)
	rs := exec.Command(rsyslogd, "-n", "-f", conf, "-i", filepath.Join(work, "pid"))
	rs.Stderr = os.Stderr
	if err := rs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Process.Kill(); rs.Wait() })
	sock := filepath.Join(work, "log")
	awaitFile(t, sock, "exists", func(string) bool { _, err := os.Stat(sock); return err == nil })
	for _, via := range []string{"via-udp", "via-tcp-lf", "via-tcp-count", "via-tls"} {
		if out, err := exec.Command("logger", "-u", sock, "-t", "remoteapp", "-p", "local2.warning", "hello "+via).CombinedOutput(); err != nil {
			t.Fatalf("logger: %v\n%s", err, out)
		}
		wait("hello " + via)
	}
	out := in.mustCtl("logs", "--no-pager", "-o", "json", "_HOSTNAME=rshost")
	for _, via := range []string{"via-udp", "via-tcp-lf", "via-tcp-count", "via-tls"} {
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "hello "+via) {
				line = l
			}
		}
		for _, want := range []string{`"SYSLOG_IDENTIFIER":"remoteapp"`, `"SYSLOG_FACILITY":"18"`, `"PRIORITY":"4"`,
			`"TEND_SOURCE_ADDRESS":"127.0.0.1"`, `"SYSLOG_TIMESTAMP":"`} {
			if !strings.Contains(line, want) {
				t.Errorf("%s: %s lacks %s", via, line, want)
			}
		}
	}
	// Without a client certificate the handshake fails: nothing is
	// stored, and tend says so once however often the client tries.
	for range 3 {
		c, err := tls.Dial("tcp", addr(2), &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			fmt.Fprintf(c, "<13>intruder: let me in\n")
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			c.Read(make([]byte, 1)) // the server's alert, or its close
			c.Close()
		}
	}
	wait2 := in.followLogs("--host", "rshost")
	if out, err := exec.Command("logger", "-u", sock, "-t", "remoteapp", "-p", "local2.warning", "hello via-tls again").CombinedOutput(); err != nil {
		t.Fatalf("logger: %v\n%s", err, out)
	}
	wait2("hello via-tls again")
	if out := in.mustCtl("logs", "--no-pager", "-o", "cat"); strings.Contains(out, "let me in") {
		t.Errorf("a client without a certificate got a message in:\n%s", out)
	}
	if n := strings.Count(in.stderr.String(), "TLS handshake failed"); n != 1 {
		t.Errorf("%d diagnostics for three refused TLS clients; want 1:\n%s", n, in.stderr)
	}
	if t.Failed() {
		fmt.Println(in.stderr)
	}
}

// TestTendToTendLogHost: one tend forwards by syslog.conf "@host" (UDP)
// and "@@host" (TCP) rules to another tend that listens as a LOGHOST;
// each message arrives once per rule with the source address and the
// original timestamp, and `tend reload-logs` answers with the files.
func TestTendToTendLogHost(t *testing.T) {
	logger, err := exec.LookPath("logger")
	if err != nil {
		t.Skip("logger not installed")
	}
	udp, tcp := freePort(t), freePort(t)
	host := startTend(t, writeUnits(t, map[string]string{"default.target": "[Unit]\n"}),
		"--syslog-listen", "udp://127.0.0.1:"+strconv.Itoa(udp), "--syslog-listen", "tcp://127.0.0.1:"+strconv.Itoa(tcp))
	wait := host.followLogs("-t", "relayed")
	sender, logs := syslogConfInstance(t, nil, "local4.* @127.0.0.1:"+strconv.Itoa(udp)+
		"\nlocal4.* @@127.0.0.1:"+strconv.Itoa(tcp)+"\nlocal4.* DIR/local4.log\n")
	if out, err := exec.Command(logger, "-u", sender.syslog, "-t", "relayed", "-p", "local4.err", "over the wire").CombinedOutput(); err != nil {
		t.Fatalf("logger: %v\n%s", err, out)
	}
	wait("over the wire")
	wait("over the wire")
	out := host.mustCtl("logs", "--no-pager", "-o", "json", "SYSLOG_IDENTIFIER=relayed")
	if n := strings.Count(out, `"MESSAGE":"over the wire"`); n != 2 {
		t.Fatalf("%d copies on the LOGHOST; want one per rule:\n%s", n, out)
	}
	for _, want := range []string{`"TEND_SOURCE_ADDRESS":"127.0.0.1"`, `"SYSLOG_FACILITY":"20"`, `"PRIORITY":"3"`, `"SYSLOG_TIMESTAMP":"`} {
		if !strings.Contains(out, want) {
			t.Errorf("LOGHOST entries lack %s:\n%s", want, out)
		}
	}
	res := sender.mustCtl("reload-logs", "-o", "json")
	if !strings.Contains(res, filepath.Join(logs, "local4.log")) {
		t.Errorf("reload-logs answered %s", res)
	}
}
