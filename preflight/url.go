package preflight

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// IsURL reports whether source is an http(s) URL rather than a local path:
// the one test of the module's commands, batch engine and orchestrator for
// which sources are fetched by AssemblyAI rather than uploaded.
func IsURL(source string) bool {
	return strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://")
}

// checkURL sends one HEAD (or, when the server refuses HEAD, a GET for the
// first bytes) and judges status, size, type and name. The audio is not
// decoded: AssemblyAI fetches it, so the report carries a not_verified warning.
func (c *Checker) checkURL(ctx context.Context, raw string) (Report, error) {
	r := Report{Source: raw, Size: -1, Engine: "url"}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		r.add(CodeURLUnreachable, VerdictReject, "The URL is not valid (%v); check it.", err)
		return r, nil
	}
	resp, err := c.request(ctx, http.MethodHead, raw)
	if err == nil && (resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented ||
		resp.StatusCode == http.StatusForbidden) {
		// Some object stores refuse HEAD (or sign URLs for GET only).
		_ = resp.Body.Close() // replaced by the GET's response
		resp, err = c.request(ctx, http.MethodGet, raw)
	}
	if err != nil {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		if errors.Is(err, ErrPrivateAddress) {
			r.add(CodeURLPrivate, VerdictReject, "The URL's host %s resolves to a non-public address (%s): AssemblyAI cannot fetch it and pre-flight does not connect there; use a public URL, or pass --allow-private-urls for a server on this machine or network.",
				u.Hostname(), redactURLError(err))
			return r, nil
		}
		r.add(CodeURLUnreachable, VerdictReject, "The URL cannot be reached (%s); check the address and that it is publicly accessible.", redactURLError(err))
		return r, nil
	}
	defer resp.Body.Close() //nolint:errcheck // response body, read only
	if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
		r.add(CodeURLRedirect, VerdictWarn, "The URL redirects (%s) to %s; pre-flight follows no redirect, so the file there was not checked. Give the final address to have it checked.",
			resp.Status, redirectTarget(u, loc))
		return r, nil
	}
	if resp.StatusCode >= 300 {
		r.add(CodeURLUnreachable, VerdictReject, "The URL answers %s; AssemblyAI will not be able to download it, so check that the link is public and has not expired.",
			resp.Status)
		return r, nil
	}
	r.Size = resp.ContentLength
	if cr := resp.Header.Get("Content-Range"); resp.StatusCode == http.StatusPartialContent && cr != "" {
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if n, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
				r.Size = n
			}
		}
	}
	if r.Size == 0 {
		r.add(CodeEmpty, VerdictReject, "The URL serves an empty file (0 bytes); check the link.")
		return r, nil
	}
	if r.Size > c.cfg.MaxURLSize {
		r.add(CodeTooLarge, VerdictReject, "The file is %s, above the %s limit for URLs; split or compress it.",
			humanBytes(r.Size), humanBytes(c.cfg.MaxURLSize))
		return r, nil
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	r.MIME = ct
	extFam := FormatName(u.Path)
	var sniffed string
	if resp.Request.Method == http.MethodGet {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, sniffLen))
		if len(head) > 0 {
			r.MIME, sniffed = sniff(head)
		}
	}
	switch {
	case sniffed != "":
		r.Container = sniffed
	case plausibleType(ct) && ct != "" && mimeFamily[ct] != "":
		r.Container = mimeFamily[ct]
	case plausibleType(ct) && extFam != "":
		r.Container = extFam
	case !plausibleType(ct):
		r.add(CodeUnsupportedFormat, VerdictReject, "The URL serves %s, not audio or video; link to the media file itself, not a web page.",
			mimeName(ct))
		return r, nil
	default:
		r.add(CodeUnsupportedFormat, VerdictWarn, "Neither the content type (%s) nor the name %q says this is audio; check that the link points at a media file.",
			orText(ct, "none"), path.Base(u.Path))
	}
	if unlisted[r.Container] {
		r.add(CodeUnlistedFormat, VerdictWarn, "%s is not on AssemblyAI's list of supported formats; it usually works, but convert it if transcription fails.",
			sniffedName(r.Container))
	}
	r.add(CodeNotVerified, VerdictWarn, "The audio at a URL is not downloaded here, so it was not verified to decode or contain sound; AssemblyAI checks it when it fetches it.")
	return r, nil
}

func (c *Checker) request(ctx context.Context, method, raw string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, raw, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if method == http.MethodGet {
		req.Header.Set("Range", "bytes=0-"+strconv.Itoa(sniffLen-1))
	}
	return c.client.Do(req)
}

// plausibleType reports whether a Content-Type can carry media. Servers often
// send application/octet-stream (or nothing) for media files.
func plausibleType(ct string) bool {
	switch {
	case ct == "", strings.HasPrefix(ct, "audio/"), strings.HasPrefix(ct, "video/"):
		return true
	}
	switch ct {
	case "application/octet-stream", "binary/octet-stream", "application/ogg", "application/mp4",
		"application/x-www-form-urlencoded", "application/download", "application/force-download":
		return true
	}
	return false
}

// redactURLError drops the URL (which may carry a signed query) from a client
// error, keeping the cause.
func redactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// redirectTarget names where a redirect points without its query or
// userinfo, which may carry credentials (a signed URL).
func redirectTarget(base *url.URL, loc string) string {
	t, err := base.Parse(loc)
	if err != nil {
		return "an invalid location"
	}
	t.User = nil
	if t.RawQuery != "" {
		t.RawQuery = "…"
	}
	t.Fragment = ""
	return t.String()
}
