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

	"github.com/durascribe/durascribe/preflight"
)

// ErrNoInputs is returned when the arguments name no audio at all.
var ErrNoInputs = errors.New("no audio inputs found")

// AudioExtensions are the file extensions picked up when walking a directory
// (files named explicitly are always taken).
var AudioExtensions = []string{
	".3gp", ".aac", ".aif", ".aiff", ".amr", ".flac", ".m4a", ".m4v", ".mkv", ".mov", ".mp3", ".mp4",
	".mpga", ".oga", ".ogg", ".opus", ".wav", ".webm", ".wma",
}

// ErrOutputCollision is returned (wrapped) when two inputs would write
// their outputs under the same name: nothing is queued or written.
var ErrOutputCollision = errors.New("two inputs would write the same outputs")

// ResolveInputs turns command-line arguments — local files, directories
// (walked recursively for AudioExtensions, see WalkFiles), http(s) URLs and
// @list files (one argument per line; blank lines and # comments skipped) —
// into Inputs with params attached.
//
// Output names: a file named as an argument is written as its name with the
// extension replaced (rec/tone.wav → tone.txt); a file found in a directory
// mirrors the tree below that directory (in/day1/tone.wav → day1/tone.txt).
// When several inputs would have the same output name — compared after
// sanitising and ignoring case, as macOS and Windows file systems do — each
// of them keeps its extension (a.wav → a.wav.txt, a.mp3 → a.mp3.txt),
// whatever else is listed and in whichever order; only a collision changes
// a name. A collision that remains (A/x.wav and B/x.wav named as two
// arguments) is refused with ErrOutputCollision before anything is queued.
// Enqueue applies the same rule to names that other sources in the store
// own already.
func ResolveInputs(args []string, params json.RawMessage) ([]Input, error) {
	var (
		out   []Input
		names []string // each input's name with its extension, as out
		seen  = map[string]bool{}
	)
	add := func(in Input, name string) {
		if seen[in.Key] {
			return
		}
		seen[in.Key] = true
		in.Params = params
		if !strings.HasPrefix(in.Key, "url:") {
			in.fullName = name
		}
		out = append(out, in)
		names = append(names, name)
	}
	var resolve func(arg string, depth int) error
	resolve = func(arg string, depth int) error {
		switch {
		case strings.HasPrefix(arg, "@"):
			if depth > 3 {
				return fmt.Errorf("read list %s: lists nested too deep", arg)
			}
			return readList(strings.TrimPrefix(arg, "@"), func(line string) error { return resolve(line, depth+1) })
		case preflight.IsURL(arg):
			in, err := urlInput(arg)
			if err != nil {
				return err
			}
			add(in, in.OutName)
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
			in, err := fileInput(abs, fi, trimExt(filepath.Base(abs)))
			if err != nil {
				return err
			}
			add(in, filepath.Base(abs))
			return nil
		}
		return WalkFiles(abs, func(p, rel string, fi fs.FileInfo, err error) error {
			switch {
			case err != nil && fi != nil:
				return fmt.Errorf("read input: %w", err) // an unreadable directory
			case err != nil || !slices.Contains(AudioExtensions, strings.ToLower(filepath.Ext(p))):
				// A dangling link is no audio we can send; check names it.
				return nil
			}
			in, err := fileInput(p, fi, trimExt(rel))
			if err != nil {
				return err
			}
			add(in, rel)
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
	if err := uniqueOutNames(out, names); err != nil {
		return nil, err
	}
	return out, nil
}

// fileInput is the Input of the local file at abs (fi is its Stat). A
// symbolic link is recorded as the file it points to, so that the upload can
// refuse to follow a link that appears later (see transcribe).
func fileInput(abs string, fi fs.FileInfo, outName string) (Input, error) {
	src := abs
	if lfi, err := os.Lstat(abs); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
		if src, err = filepath.EvalSymlinks(abs); err != nil {
			return Input{}, fmt.Errorf("resolve %s: %w", abs, err)
		}
	}
	return Input{
		Key:     fmt.Sprintf("file:%s:%d:%d", src, fi.Size(), fi.ModTime().UnixNano()),
		Source:  src,
		OutName: outName,
		Size:    fi.Size(),
	}, nil
}

// WalkFiles calls fn for each file below dir, in lexical order, the way
// transcribe, enqueue and check all walk a directory: names starting with
// "." are skipped, and symbolic links are followed, to files and to
// directories. Each directory is walked once, so a link loop (or two links
// to one folder) ends there. p is the path as reached (through link names),
// rel its slash-separated path below dir, and fi the Stat of what p names.
// An entry that cannot be read comes with its error: an unreadable
// directory with its fi, a dangling link with none; fn decides. An error
// from fn stops the walk.
func WalkFiles(dir string, fn func(p, rel string, fi fs.FileInfo, err error) error) error {
	visited := map[string]bool{}
	var walk func(d, rel string, dfi fs.FileInfo) error
	walk = func(d, rel string, dfi fs.FileInfo) error {
		if real, err := filepath.EvalSymlinks(d); err == nil {
			if visited[real] {
				return nil
			}
			visited[real] = true
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			return fn(d, rel, dfi, err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			p, r := filepath.Join(d, e.Name()), path.Join(rel, e.Name())
			fi, err := os.Stat(p) // follows links
			switch {
			case err != nil:
				err = fn(p, r, nil, err)
			case fi.IsDir():
				err = walk(p, r, fi)
			default:
				err = fn(p, r, fi, nil)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fn(dir, "", nil, err)
	}
	return walk(dir, "", fi)
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

// outKey is what two output names are compared by: the name as written
// (sanitised), ignoring case, since macOS and Windows file systems do.
func outKey(outName string) string {
	return strings.ToLower(filepath.ToSlash(sanitizeRel(outName)))
}

// uniqueOutNames gives the inputs whose output names collide their full
// names, extension kept (names[i] is ins[i]'s), until no collision changes
// anything, and refuses what still collides. The result depends only on the
// set of inputs, not on their order.
func uniqueOutNames(ins []Input, names []string) error {
	for changed := true; changed; {
		changed = false
		groups := map[string][]int{}
		for i, in := range ins {
			k := outKey(in.OutName)
			groups[k] = append(groups[k], i)
		}
		for _, g := range groups {
			if len(g) < 2 {
				continue
			}
			for _, i := range g {
				if ins[i].OutName != names[i] {
					ins[i].OutName, changed = names[i], true
				}
			}
		}
	}
	first := map[string]int{}
	for i, in := range ins {
		k := outKey(in.OutName)
		if j, ok := first[k]; ok {
			return fmt.Errorf("%w: %q and %q would both be written as %s.*: rename one, "+
				"or name the folder that holds both so that the outputs mirror its tree",
				ErrOutputCollision, ins[j].Source, in.Source, sanitizeRel(in.OutName))
		}
		first[k] = i
	}
	return nil
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
