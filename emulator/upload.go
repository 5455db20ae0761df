package emulator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// uploadPath prefixes the upload URLs the emulator hands out.
const uploadPath = "/cdn/upload/"

// upload is one stored upload. Server.mu guards it.
type upload struct {
	id      string
	path    string
	key     string // the API key that uploaded it, for project scoping
	media   *media
	deleted bool
}

// uploadedFile is the spec's UploadedFile.
type uploadedFile struct {
	UploadURL string `json:"upload_url"`
}

// errTooLarge reports an upload beyond Config.MaxUploadBytes.
var errTooLarge = errors.New("upload too large")

// storeStream streams r to a new file in the data dir, hashing it on the way
// and keeping only its first headSize bytes in memory.
func (s *Server) storeStream(r io.Reader, name string, limit int64) (path string, m *media, err error) {
	path = filepath.Join(s.dataDir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("create upload file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close upload file: %w", cerr)
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	hw := &headWriter{w: f, h: sha256.New(), head: make([]byte, 0, headSize)}
	buf := make([]byte, 1<<20)
	n, err := io.CopyBuffer(hw, io.LimitReader(r, limit+1), buf)
	if err != nil {
		return "", nil, fmt.Errorf("store upload: %w", err)
	}
	if n > limit {
		return "", nil, errTooLarge
	}
	m = inspect(hw.head, n)
	m.sha = hex.EncodeToString(hw.h.Sum(nil))
	return path, m, nil
}

// headWriter writes to w and the hash, and remembers the first bytes.
type headWriter struct {
	w    io.Writer
	h    hash.Hash
	head []byte
}

func (hw *headWriter) Write(p []byte) (int, error) {
	if room := cap(hw.head) - len(hw.head); room > 0 {
		hw.head = append(hw.head, p[:min(room, len(p))]...)
	}
	hw.h.Write(p)
	return hw.w.Write(p)
}

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	limit := s.cfg.MaxUploadBytes
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, "Upload error, file exceeds the maximum size of 2.2 GB")
		return
	}
	id := newUUID()
	path, m, err := s.storeStream(r.Body, id, limit)
	switch {
	case errors.Is(err, errTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "Upload error, file exceeds the maximum size of 2.2 GB")
		return
	case err != nil:
		s.log.Debug("upload aborted", "err", err)
		writeError(w, http.StatusBadRequest, "Upload error, the upload was interrupted")
		return
	case m.size == 0:
		_ = os.Remove(path)
		writeError(w, http.StatusUnprocessableEntity, "Upload error, the file is empty")
		return
	}
	s.mu.Lock()
	s.state.uploads[id] = &upload{id: id, path: path, key: r.Header.Get("Authorization"), media: m}
	again := s.state.hashes[m.sha] > 0
	s.state.hashes[m.sha]++
	s.mu.Unlock()
	s.addStat(func(st *Stats) {
		st.Uploads++
		st.UploadBytes += m.size
		if again {
			st.ReUploads++
		}
	})
	writeJSON(w, http.StatusOK, uploadedFile{UploadURL: baseURL(r) + uploadPath + id})
}

// baseURL is the scheme and host the client used to reach us.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// ownUploadLocked returns the upload behind one of our upload URLs, whatever
// host the client put in it, or nil.
func (s *Server) ownUploadLocked(u string) *upload {
	pu, err := url.Parse(u)
	if err != nil {
		return nil
	}
	id, ok := strings.CutPrefix(pu.Path, uploadPath)
	if !ok {
		return nil
	}
	return s.state.uploads[id]
}

func (s *Server) removeUploadFile(up *upload) {
	if err := os.Remove(up.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Debug("remove upload", "err", err)
	}
}

// fetchTimeout bounds the emulator's download of an external audio_url (a
// loopback test server): long enough for a large test file, short enough
// that a hung server ends the transcript with an error. Round; not the real
// API's, which is not published.
const fetchTimeout = 30 * time.Second

// startFetch downloads t's external (loopback) audio_url in the background,
// then lets t start. Failure ends t with the real download error.
func (s *Server) startFetch(t *transcript) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		go func() {
			select {
			case <-s.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		m, err := s.fetch(ctx, t.audioURL)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.log.Debug("fetch audio", "err", err)
			t.outcome = downloadError(t.audioURL)
		} else {
			t.media = m
		}
		s.decideLocked(t)
		ready := t.created.Add(s.startDelay())
		if now := s.now(); now.After(ready) {
			ready = now
		}
		s.markReadyLocked(t, ready)
	}()
}

func (s *Server) fetch(ctx context.Context, u string) (*media, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch audio: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch audio: %w", err)
	}
	defer resp.Body.Close() //nolint:errcheck // response body, read only
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch audio: status %d", resp.StatusCode)
	}
	path, m, err := s.storeStream(resp.Body, "fetch-"+newUUID(), 5_000_000_000)
	if err != nil {
		return nil, err
	}
	_ = os.Remove(path)
	if m.size == 0 {
		return nil, errors.New("fetch audio: empty body")
	}
	return m, nil
}
