package assemblyai

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"
)

// Base URLs of the two AssemblyAI regions. A transcript exists only in the
// region that created it.
const (
	DefaultBaseURL = "https://api.assemblyai.com"
	EUBaseURL      = "https://api.eu.assemblyai.com"
)

// Route templates, as reported in APIError.Endpoint and TransportError.Endpoint.
const (
	EndpointUpload      = "/v2/upload"
	EndpointTranscripts = "/v2/transcript"      // POST creates, GET lists
	EndpointTranscript  = "/v2/transcript/{id}" // GET, DELETE
	EndpointSentences   = "/v2/transcript/{id}/sentences"
	EndpointParagraphs  = "/v2/transcript/{id}/paragraphs"
	EndpointSRT         = "/v2/transcript/{id}/srt"
	EndpointVTT         = "/v2/transcript/{id}/vtt"
	EndpointWordSearch  = "/v2/transcript/{id}/word-search"
)

// MaxUploadBytes is AssemblyAI's documented limit for a local upload (2.2 GB).
const MaxUploadBytes int64 = 2_200_000_000

const (
	drainLimit   = 64 << 10 // bytes discarded from a response before closing it
	errBodyLimit = 64 << 10 // bytes of an error body read for its message
	excerptLimit = 200      // bytes of a non-JSON error body kept in Message
)

// Config configures a Client. The zero value is usable when
// $ASSEMBLYAI_API_KEY is set.
type Config struct {
	// APIKey authenticates every request. Defaults to $ASSEMBLYAI_API_KEY
	// (read through Getenv).
	APIKey APIKey
	// Getenv reads environment variables. Defaults to os.Getenv.
	Getenv func(string) string
	// BaseURL is the API origin. Only scheme, host and port are used; a path
	// is ignored, as in the official Go SDK. Defaults to DefaultBaseURL.
	BaseURL string
	// HTTPClient sends the requests. It should have no Client.Timeout, which
	// would cut off large uploads; the Config timeouts bound each request.
	// Defaults to a client with a tuned Transport (keep-alive; dial, TLS and
	// response-header timeouts) that does not follow redirects.
	HTTPClient *http.Client
	// AllowInsecureHTTP permits a plain http:// BaseURL to a host that is not
	// loopback. http to 127.0.0.0/8, ::1 and localhost is always allowed.
	// Defaults to false.
	AllowInsecureHTTP bool
	// RequestTimeout bounds each JSON request (create, get, list, delete...),
	// body included. Defaults to DefaultRequestTimeout.
	RequestTimeout time.Duration
	// UploadStallTimeout cancels an upload when the transport has read no
	// body bytes, or, once the body is sent, received no response, for this
	// long. It is a stall timeout, not a total one. Defaults to
	// DefaultUploadStallTimeout.
	UploadStallTimeout time.Duration
	// MaxUploadBytes refuses larger uploads before sending a byte; -1 removes
	// the limit. Defaults to MaxUploadBytes (2.2 GB).
	MaxUploadBytes int64
	// UserAgent is sent with every request. Defaults to "durascribe/<version>".
	UserAgent string
	// MaxResponseBytes bounds every response body read. Defaults to 64 MiB.
	MaxResponseBytes int64
	// Now returns the current time (used for Retry-After HTTP dates).
	// Defaults to time.Now.
	Now func() time.Time
}

// DefaultRequestTimeout and DefaultUploadStallTimeout are the defaults of
// Config.RequestTimeout and UploadStallTimeout. They only guard against a
// hang: a JSON request answers in well under a second, so 30 s is ample room
// for a slow network or a loaded API without leaving a stuck request for
// minutes; an upload's stall bound is twice that because the API may read a
// large body slowly before it answers. Both are round numbers, not measured.
const (
	DefaultRequestTimeout     = 30 * time.Second
	DefaultUploadStallTimeout = 60 * time.Second
)

// WithTimeScale returns a copy of c whose RequestTimeout and
// UploadStallTimeout (their defaults when zero) are multiplied by scale, for
// an API whose clock runs at scale times real time (an emulator's TimeScale:
// a scaled run must not wait out a stalled request at full length), but are
// never below floor: they guard against hangs, and a loaded machine needs
// real time to answer however fast the emulated clock runs.
func (c Config) WithTimeScale(scale float64, floor time.Duration) Config {
	scaled := func(d time.Duration) time.Duration { return max(time.Duration(float64(d)*scale), floor) }
	c.RequestTimeout = scaled(cmp.Or(c.RequestTimeout, DefaultRequestTimeout))
	c.UploadStallTimeout = scaled(cmp.Or(c.UploadStallTimeout, DefaultUploadStallTimeout))
	return c
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.APIKey == "" {
		c.APIKey = APIKey(strings.TrimSpace(c.Getenv("ASSEMBLYAI_API_KEY")))
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.UploadStallTimeout == 0 {
		c.UploadStallTimeout = DefaultUploadStallTimeout
	}
	if c.MaxUploadBytes == 0 {
		c.MaxUploadBytes = MaxUploadBytes
	}
	if c.UserAgent == "" {
		c.UserAgent = "durascribe/" + moduleVersion()
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 64 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = defaultHTTPClient(max(c.RequestTimeout, c.UploadStallTimeout))
	}
	return c
}

// Validate reports whether c, after WithDefaults, can build a Client.
func (c Config) Validate() error {
	d := c.WithDefaults()
	if d.APIKey == "" {
		return ErrNoAPIKey
	}
	if strings.ContainsFunc(string(d.APIKey), func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return ErrInvalidAPIKey
	}
	if _, err := parseBaseURL(d.BaseURL, d.AllowInsecureHTTP); err != nil {
		return err
	}
	switch {
	case d.RequestTimeout < 0:
		return fmt.Errorf("%w: negative RequestTimeout", ErrInvalidArgument)
	case d.UploadStallTimeout < 0:
		return fmt.Errorf("%w: negative UploadStallTimeout", ErrInvalidArgument)
	case d.MaxResponseBytes < 0:
		return fmt.Errorf("%w: negative MaxResponseBytes", ErrInvalidArgument)
	case d.MaxUploadBytes < -1:
		return fmt.Errorf("%w: MaxUploadBytes below -1", ErrInvalidArgument)
	}
	return nil
}

// LogValue logs the configuration without the key (which prints as
// "[redacted]" anyway) and without function fields.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("api_key", c.APIKey),
		slog.String("base_url", c.BaseURL),
		slog.Bool("allow_insecure_http", c.AllowInsecureHTTP),
		slog.Duration("request_timeout", c.RequestTimeout),
		slog.Duration("upload_stall_timeout", c.UploadStallTimeout),
		slog.String("user_agent", c.UserAgent),
		slog.Int64("max_response_bytes", c.MaxResponseBytes),
	)
}

// Client is a typed client of the AssemblyAI v2 async REST API. Each method
// makes exactly one attempt; retrying is the caller's job (see Classify).
// A Client is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL // scheme and host only
	hc   *http.Client
	// keyForms are the key's encodings that error texts are scrubbed of.
	keyForms forms
}

// New returns a Client for cfg (after WithDefaults). It returns ErrNoAPIKey
// when no key is configured and ErrInsecureURL for plain http to a remote host.
func New(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configure assemblyai client: %w", err)
	}
	base, err := parseBaseURL(cfg.BaseURL, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, fmt.Errorf("configure assemblyai client: %w", err)
	}
	cfg.BaseURL = base.String()
	return &Client{cfg: cfg, base: base, hc: cfg.HTTPClient, keyForms: keyForms(cfg.APIKey.Reveal())}, nil
}

// BaseURL returns the origin requests go to, e.g. "https://api.assemblyai.com".
func (c *Client) BaseURL() string { return c.base.String() }

// RequestTimeout returns the bound of one JSON request (Config.RequestTimeout
// after defaults): the longest a create's POST is waited for. Callers that
// reconcile creates of unknown outcome use it to know how long a sent
// create may still land.
func (c *Client) RequestTimeout() time.Duration { return c.cfg.RequestTimeout }

// Host returns host[:port] of the base URL, e.g. "api.assemblyai.com".
func (c *Client) Host() string { return c.base.Host }

// CloseIdleConnections closes idle keep-alive connections of the HTTP client.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// LogValue logs the base URL only.
func (c *Client) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", c.BaseURL()))
}

func parseBaseURL(raw string, allowInsecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrInvalidBaseURL, raw)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%w: %q: want http(s)://host[:port]", ErrInvalidBaseURL, u.Redacted())
	}
	if u.Scheme == "http" && !allowInsecure && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%w: %s (set AllowInsecureHTTP to allow)", ErrInsecureURL, u.Host)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func defaultHTTPClient(responseHeaderTimeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			ResponseHeaderTimeout: 2 * responseHeaderTimeout,
		},
		// The API never redirects; following one could replay an upload or
		// turn a POST into a GET. A 3xx surfaces as an *APIError instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func moduleVersion() string {
	const path = "github.com/durascribe/durascribe"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := ""
	if bi.Main.Path == path {
		v = bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			v = d.Version
		}
	}
	if v == "" || v == "(devel)" {
		return "dev"
	}
	return v
}

// call describes one request.
type call struct {
	method   string
	endpoint string // route template
	id       string // transcript id in the route, if any
	path     string // concrete path
	query    url.Values
	rawQuery string // used when query is nil: a server-made page URL, verbatim
	in       any    // JSON request body, or nil
	// date, when set, receives the response's Date header (zero when it
	// is missing or unparsable).
	date *time.Time
}

// do sends one JSON-API request under Config.RequestTimeout and returns the
// bounded 2xx body. Non-2xx responses become *APIError, failures without a
// response *TransportError, unreadable 2xx bodies *ResponseError.
func (c *Client) do(ctx context.Context, k call) ([]byte, error) {
	var body io.Reader
	if k.in != nil {
		b, err := json.Marshal(k.in)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s request: %w", k.method, k.endpoint, err)
		}
		body = bytes.NewReader(b)
	}
	reqCtx, cancel := context.WithTimeoutCause(ctx, c.cfg.RequestTimeout,
		fmt.Errorf("%w after %s", ErrRequestTimeout, c.cfg.RequestTimeout))
	defer cancel()
	var sent atomic.Bool
	reqCtx = httptrace.WithClientTrace(reqCtx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) { sent.Store(i.Err == nil) },
	})
	u := *c.base
	u.Path = k.path
	u.RawQuery = k.rawQuery
	if k.query != nil {
		u.RawQuery = k.query.Encode()
	}
	req, err := http.NewRequestWithContext(reqCtx, k.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build %s %s request: %w", k.method, k.endpoint, err)
	}
	c.setHeaders(req, "application/json")
	resp, err := c.hc.Do(req) //nolint:bodyclose // closed by the deferred drainClose just below, in every path
	if err != nil {
		return nil, c.transportError(ctx, reqCtx, k, sent.Load(), err)
	}
	defer drainClose(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.apiError(k, resp)
	}
	if k.date != nil {
		*k.date, _ = http.ParseTime(resp.Header.Get("Date"))
	}
	b, err := c.readBody(resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			err = contextError(ctx)
		} else if reqCtx.Err() != nil {
			err = context.Cause(reqCtx)
		}
		return nil, &ResponseError{Method: k.method, Endpoint: k.endpoint, TranscriptID: k.id, StatusCode: resp.StatusCode, Err: err}
	}
	return b, nil
}

// doJSON is do followed by decoding into out.
func (c *Client) doJSON(ctx context.Context, k call, out any) error {
	b, err := c.do(ctx, k)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return &ResponseError{Method: k.method, Endpoint: k.endpoint, TranscriptID: k.id, StatusCode: http.StatusOK, Err: fmt.Errorf("decode body: %w", err)}
	}
	return nil
}

func (c *Client) setHeaders(req *http.Request, contentType string) {
	req.Header.Set("Authorization", c.cfg.APIKey.Reveal())
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Content-Type", contentType)
}

// readBody reads at most MaxResponseBytes.
func (c *Client) readBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > c.cfg.MaxResponseBytes {
		return nil, fmt.Errorf("%w: over %d bytes", ErrResponseTooLarge, c.cfg.MaxResponseBytes)
	}
	return b, nil
}

// transportError builds the *TransportError for a request that got no
// response, telling apart the caller's cancellation (Err wraps the context
// error) from our own timeouts (Err is the cause we set).
func (c *Client) transportError(ctx, reqCtx context.Context, k call, sent bool, err error) error {
	switch {
	case ctx.Err() != nil:
		err = contextError(ctx)
	case reqCtx.Err() != nil:
		err = context.Cause(reqCtx)
	default:
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
	}
	return &TransportError{Method: k.method, Endpoint: k.endpoint, TranscriptID: k.id, Sent: sent, Err: err}
}

// contextError returns ctx.Err(), joined with its cause when that differs.
func contextError(ctx context.Context) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	switch {
	case cause == nil:
		return err
	case errors.Is(cause, err):
		return cause
	}
	return fmt.Errorf("%w: %w", err, cause)
}

// apiError reads a bounded excerpt of a non-2xx body into an *APIError.
func (c *Client) apiError(k call, resp *http.Response) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, Method: k.method, Endpoint: k.endpoint, TranscriptID: k.id}
	if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), c.cfg.Now()); ok {
		e.RetryAfter = d
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, errBodyLimit))
	e.Message = errorMessage(b)
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	e.Message = c.keyForms.scrub(e.Message)
	return e
}

// errorMessage returns the "error" string of a JSON error body, or a short
// single-line excerpt of any other body.
func errorMessage(b []byte) string {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &env) == nil && len(env.Error) > 0 {
		var s string
		if json.Unmarshal(env.Error, &s) == nil {
			return s
		}
		b = env.Error
	}
	s := strings.ToValidUTF8(string(b), "")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == ' ' || r == 0x7f }), " ")
	if len(s) > excerptLimit {
		s = strings.ToValidUTF8(s[:excerptLimit], "") + "…"
	}
	return s
}

// drainClose discards a bounded remainder of body and closes it, so that the
// connection can be reused.
func drainClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, drainLimit)
	_ = body.Close()
}
