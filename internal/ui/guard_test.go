package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/internal/ui"
)

// do sends req with c and returns the status and body.
func do(t *testing.T, c *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // response body, read only
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func newReq(t *testing.T, method, url, body string, header map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	return req
}

// The dashboard refuses DNS-rebound and cross-origin requests and anything
// without its token (issue 18, #13): the attack that cancelled jobs with a
// text/plain POST from attacker.example no longer works, and the browser
// flow (open ?token=, then use the cookie) still does.
func TestDashboardRefusesForeignRequests(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st, err := batch.Open(ctx, filepath.Join(t.TempDir(), "ds.db"), batch.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close() //nolint:errcheck // test teardown
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret-meeting.wav"), wav(1), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs, err := batch.ResolveInputs([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Enqueue(ctx, inputs); err != nil {
		t.Fatal(err)
	}
	const token = "0123456789abcdef"
	h, err := ui.New(ui.Config{Store: st, ReportInput: reportInput(st), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	uiCtx, stopUI := context.WithCancel(ctx)
	defer stopUI()
	if err := h.Start(uiCtx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}

	// Log the browser in: ?token= sets an HttpOnly SameSite=Strict cookie.
	resp, err := plain.Do(newReq(t, "GET", srv.URL+"/?token="+token, "", nil))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || !resp.Cookies()[0].HttpOnly ||
		resp.Cookies()[0].SameSite != http.SameSiteStrictMode || strings.Contains(resp.Header.Get("Location"), token) {
		t.Fatalf("login: %d %v, Location %q", resp.StatusCode, resp.Header["Set-Cookie"], resp.Header.Get("Location"))
	}
	if code, _ := do(t, browser, newReq(t, "GET", srv.URL+"/?token="+token, "", nil)); code != http.StatusOK {
		t.Fatalf("login through the redirect: %d", code)
	}
	var jobs struct {
		Data []struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	code, body := do(t, browser, newReq(t, "GET", srv.URL+"/riverui/api/jobs?state=available", "", nil))
	if err := json.Unmarshal([]byte(body), &jobs); code != http.StatusOK || err != nil || len(jobs.Data) != 1 {
		t.Fatalf("jobs: %d %v %s", code, err, body)
	}
	cancelBody := fmt.Sprintf(`{"ids":["%d"]}`, jobs.Data[0].ID)
	cancelURL := srv.URL + "/riverui/api/jobs/cancel"
	origin := srv.URL

	for _, tt := range []struct {
		name   string
		client *http.Client
		req    *http.Request
		want   int
	}{
		{"rebound cancel", browser, newReq(t, "POST", cancelURL, cancelBody,
			map[string]string{"Content-Type": "text/plain", "Origin": "http://attacker.example", "Host": "attacker.example"}), http.StatusMisdirectedRequest},
		{"rebound report", browser, newReq(t, "GET", srv.URL+"/report.json", "", map[string]string{"Host": "attacker.example:80"}), http.StatusMisdirectedRequest},
		{"cross-origin cancel", browser, newReq(t, "POST", cancelURL, cancelBody,
			map[string]string{"Content-Type": "text/plain", "Origin": "http://attacker.example"}), http.StatusForbidden},
		{"null-origin cancel", browser, newReq(t, "POST", cancelURL, cancelBody, map[string]string{"Origin": "null"}), http.StatusForbidden},
		{"cross-site referer cancel", browser, newReq(t, "POST", cancelURL, cancelBody,
			map[string]string{"Referer": "http://attacker.example/page"}), http.StatusForbidden},
		{"other loopback port", browser, newReq(t, "POST", cancelURL, cancelBody,
			map[string]string{"Origin": "http://127.0.0.1:1"}), http.StatusForbidden},
		{"no token report", plain, newReq(t, "GET", srv.URL+"/report.json", "", nil), http.StatusUnauthorized},
		{"no token cancel", plain, newReq(t, "POST", cancelURL, cancelBody, map[string]string{"Origin": origin}), http.StatusUnauthorized},
		{"wrong token", plain, newReq(t, "GET", srv.URL+"/?token=nope", "", nil), http.StatusUnauthorized},
		{"metrics needs no token", plain, newReq(t, "GET", srv.URL+"/metrics", "", nil), http.StatusOK},
		{"bearer token", plain, newReq(t, "GET", srv.URL+"/report.json", "", map[string]string{"Authorization": "Bearer " + token}), http.StatusOK},
		{"localhost name", browser, newReq(t, "GET", srv.URL+"/metrics", "", map[string]string{"Host": "localhost"}), http.StatusOK},
	} {
		code, body := do(t, tt.client, tt.req)
		if code != tt.want {
			t.Errorf("%s: %d, want %d: %.200s", tt.name, code, tt.want, body)
		}
		if code != http.StatusOK && strings.Contains(body, "secret-meeting") {
			t.Errorf("%s: a refusal names a file: %s", tt.name, body)
		}
	}
	if code, body := do(t, browser, newReq(t, "GET", srv.URL+"/riverui/api/jobs?state=available", "", nil)); !strings.Contains(body, `"id"`) {
		t.Fatalf("the refused requests cancelled the job: %d %s", code, body)
	}
	// The dashboard's own page may cancel.
	if code, body := do(t, browser, newReq(t, "POST", cancelURL, cancelBody,
		map[string]string{"Content-Type": "application/json", "Origin": origin})); code != http.StatusOK {
		t.Errorf("same-origin cancel: %d %s", code, body)
	}
	if _, body := do(t, browser, newReq(t, "GET", srv.URL+"/riverui/api/jobs?state=cancelled", "", nil)); !strings.Contains(body, `"id"`) {
		t.Errorf("the same-origin cancel did not cancel: %s", body)
	}
}
