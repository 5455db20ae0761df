package batch

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// ErrNoInputs is returned when the arguments name no audio at all.
var ErrNoInputs = errors.New("no audio inputs found")

// AudioExtensions are the file extensions picked up when walking a directory
// (files named explicitly are always taken).
var AudioExtensions = []string{
	".3gp", ".aac", ".aif", ".aiff", ".amr", ".flac", ".m4a", ".m4v", ".mkv", ".mov", ".mp3", ".mp4",
	".mpga", ".oga", ".ogg", ".opus", ".wav", ".webm", ".wma",
}

// ResolveInputs turns command-line arguments — local files, directories
// (walked recursively for AudioExtensions), http(s) URLs and @list files (one
// argument per line; blank lines and # comments skipped) — into Inputs with
// params attached. Output names mirror each directory's tree.
func ResolveInputs(args []string, params json.RawMessage) ([]Input, error) {
	var (
		out  []Input
		seen = map[string]bool{}
	)
	add := func(in Input) {
		if seen[in.Key] {
			return
		}
		seen[in.Key] = true
		in.Params = params
		out = append(out, in)
	}
	var resolve func(arg string, depth int) error
	resolve = func(arg string, depth int) error {
		switch {
		case strings.HasPrefix(arg, "@"):
			if depth > 3 {
				return fmt.Errorf("read list %s: lists nested too deep", arg)
			}
			return readList(strings.TrimPrefix(arg, "@"), func(line string) error { return resolve(line, depth+1) })
		case strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://"):
			in, err := urlInput(arg)
			if err != nil {
				return err
			}
			add(in)
			return nil
		}
		abs, err := filepath.Abs(arg)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", arg, err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return fmt.Errorf("read input: %w", err)
		}
		if !fi.IsDir() {
			add(fileInput(abs, fi, trimExt(filepath.Base(abs))))
			return nil
		}
		return filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != abs && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") ||
				!slices.Contains(AudioExtensions, strings.ToLower(filepath.Ext(p))) {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(abs, p)
			add(fileInput(p, fi, trimExt(filepath.ToSlash(rel))))
			return nil
		})
	}
	for _, a := range args {
		if err := resolve(a, 0); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, ErrNoInputs
	}
	dedupeOutNames(out)
	return out, nil
}

func fileInput(abs string, fi fs.FileInfo, outName string) Input {
	return Input{
		Key:     fmt.Sprintf("file:%s:%d:%d", abs, fi.Size(), fi.ModTime().UnixNano()),
		Source:  abs,
		OutName: outName,
		Size:    fi.Size(),
	}
}

func urlInput(raw string) (Input, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return Input{}, fmt.Errorf("parse URL %q: not a valid http(s) URL", raw)
	}
	sum := sha256.Sum256([]byte(raw))
	name := trimExt(path.Base(u.Path))
	if name == "" || name == "/" || name == "." {
		name = u.Hostname()
	}
	return Input{Key: "url:" + raw, Source: raw, OutName: name + "-" + hex.EncodeToString(sum[:4])}, nil
}

func trimExt(name string) string { return strings.TrimSuffix(name, path.Ext(name)) }

// dedupeOutNames keeps the extension of inputs whose output names collide
// ("a.mp3" and "a.wav" become "a.mp3" and "a.wav", not both "a").
func dedupeOutNames(ins []Input) {
	count := map[string]int{}
	for _, in := range ins {
		count[in.OutName]++
	}
	for i, in := range ins {
		if count[in.OutName] > 1 && !strings.HasPrefix(in.Key, "url:") {
			ins[i].OutName = in.OutName + filepath.Ext(in.Source)
		}
	}
}

func readList(name string, fn func(string) error) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("read list: %w", err)
	}
	defer f.Close() //nolint:errcheck // opened read-only
	sc := bufio.NewScanner(f)
	dir := filepath.Dir(name)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// Relative paths in a list are relative to the list.
		if !strings.Contains(line, "://") && !strings.HasPrefix(line, "@") && !filepath.IsAbs(line) {
			line = filepath.Join(dir, line)
		}
		if err := fn(line); err != nil {
			return err
		}
	}
	return sc.Err()
}
