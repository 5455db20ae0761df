package preflight

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

func TestIsPublicAddr(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ip     string
		public bool
	}{
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"2606:4700:4700::1111", true},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"127.0.0.1", false},
		{"127.8.9.10", false},
		{"::1", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"::", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"fe80::1", false},
		{"100.64.0.1", false}, // CGNAT
		{"100.127.255.254", false},
		{"fc00::1", false},
		{"fd12:3456::1", false}, // ULA
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"ff02::1", false},
		{"255.255.255.255", false},
		{"::ffff:127.0.0.1", false},       // IPv4-mapped loopback
		{"::ffff:169.254.169.254", false}, // IPv4-mapped metadata
		{"::ffff:10.0.0.1", false},
		{"64:ff9b::a9fe:a9fe", false}, // NAT64 of 169.254.169.254
		{"2002:7f00:1::", false},      // 6to4 of 127.0.0.1
		{"192.0.2.1", false},
		{"2001:db8::1", false},
		{"fec0::1", false},
	} {
		if got := IsPublicAddr(netip.MustParseAddr(tt.ip)); got != tt.public {
			t.Errorf("IsPublicAddr(%s) = %v, want %v", tt.ip, got, tt.public)
		}
	}
	if IsPublicAddr(netip.Addr{}) {
		t.Error("the zero Addr is public")
	}
}

// URL pre-flight connects to no loopback (or other non-public) address unless
// allowed, whether the URL names the IP or a host name that resolves to it,
// and follows no redirect.
func TestCheckURLRefusesPrivateAndRedirects(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/ok.mp3", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Header().Set("Content-Length", "123456")
	})
	mux.HandleFunc("/moved.mp3", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok.mp3?sig=s3cret", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	strict, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{srv.URL + "/ok.mp3", byName + "/ok.mp3", srv.URL + "/moved.mp3"} {
		r, err := strict.Check(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != VerdictReject || !r.Has(CodeURLPrivate) {
			t.Errorf("%s: %s %v, want reject %s", u, r.Verdict, codes(r), CodeURLPrivate)
		}
		if len(r.Reasons) > 0 && !strings.Contains(r.Reasons[0].Message, "--allow-private-urls") {
			t.Errorf("%s: the reason does not say how to allow it: %s", u, r.Reasons[0].Message)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the strict checker reached the server %d times", n)
	}

	open, err := New(Config{AllowPrivateURLs: true})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := open.Check(t.Context(), srv.URL+"/ok.mp3"); err != nil || r.Verdict != VerdictWarn || !r.Has(CodeNotVerified) {
		t.Errorf("allowed: %s %v %v, want warn %s", r.Verdict, codes(r), err, CodeNotVerified)
	}
	hits.Store(0)
	r, err := open.Check(t.Context(), srv.URL+"/moved.mp3")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Has(CodeURLRedirect) || hits.Load() != 0 {
		t.Errorf("redirect: %v, %d hits on the target; want %s and none", codes(r), hits.Load(), CodeURLRedirect)
	}
	if msg := r.Reasons[0].Message; strings.Contains(msg, "s3cret") || !strings.Contains(msg, "/ok.mp3") {
		t.Errorf("redirect reason should name the target without its query: %s", msg)
	}
}
