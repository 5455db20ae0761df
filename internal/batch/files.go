package batch

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/durascribe/durascribe/internal/logging"
	"github.com/durascribe/durascribe/transcribe"
)

// State is where a file is in its life. Only done and failed are terminal.
type State string

// The file states.
const (
	StatePending State = "pending" // queued, nothing sent yet
	StateWorking State = "working" // at least one stage started
	StateDone    State = "done"    // transcript completed and stored
	StateFailed  State = "failed"  // permanent failure; Reason says why
)

// Input is one thing to transcribe, as resolved from the command line.
type Input struct {
	// Key identifies the input across runs: absolute path + size + mtime for
	// local files (so a file edited after it was done is a new input; one
	// edited while unfinished continues its record, see addFiles), the URL
	// otherwise.
	Key string
	// Source is the absolute local path or the http(s) URL.
	Source string
	// OutName is the output path relative to --out, without extension.
	OutName string
	// Params is the JSON of the transcript parameters (without audio_url).
	Params json.RawMessage
	// Size is a local file's size in bytes; 0 for URLs (unknown).
	Size int64

	// fullName is OutName with the input's extension kept: the name used
	// when another source in the store owns OutName. Empty for URLs.
	fullName string
}

// largestFirst returns the inputs in the order their files are queued: URLs
// first (their length is unknown), then local files from the largest to the
// smallest, each group otherwise in the order given. Long recordings started
// first leave short ones to fill the last round of slots, rather than one
// long transcript running alone at the end of the batch: the
// longest-processing-time-first rule, with size standing in for duration.
func largestFirst(inputs []Input) []Input {
	out := slices.Clone(inputs)
	slices.SortStableFunc(out, func(a, b Input) int {
		au, bu := strings.HasPrefix(a.Key, "url:"), strings.HasPrefix(b.Key, "url:")
		switch {
		case au && bu:
			return 0
		case au:
			return -1
		case bu:
			return 1
		}
		return cmp.Compare(b.Size, a.Size)
	})
	return out
}

// File is one input and its durable progress.
type File struct {
	ID           int64                 `json:"id"`
	InputKey     string                `json:"input_key"`
	Source       string                `json:"source"`
	OutName      string                `json:"out_name"`
	Params       json.RawMessage       `json:"params,omitempty"`
	Gen          int64                 `json:"gen"`
	State        State                 `json:"state"`
	Stage        transcribe.Stage      `json:"stage,omitempty"`
	Checkpoint   transcribe.Checkpoint `json:"checkpoint"`
	Preflight    json.RawMessage       `json:"preflight,omitempty"`
	TranscriptID string                `json:"transcript_id,omitempty"`
	LastError    string                `json:"last_error,omitempty"`
	Reason       string                `json:"reason,omitempty"`
	CreatedAt    time.Time             `json:"created_at"`
	UpdatedAt    time.Time             `json:"updated_at"`
	StartedAt    time.Time             `json:"started_at,omitzero"`
	FinishedAt   time.Time             `json:"finished_at,omitzero"`
}

const fileColumns = `id, input_key, source, out_name, params, gen, state, stage, checkpoint, preflight,
	transcript_id, last_error, reason, created_at, updated_at, started_at, finished_at`

func scanFile(row interface{ Scan(...any) error }) (*File, error) {
	var (
		f                                   File
		params, cp, pre                     string
		created, updated, started, finished string
	)
	if err := row.Scan(&f.ID, &f.InputKey, &f.Source, &f.OutName, &params, &f.Gen, &f.State, &f.Stage, &cp, &pre,
		&f.TranscriptID, &f.LastError, &f.Reason, &created, &updated, &started, &finished); err != nil {
		return nil, err
	}
	if params != "" {
		f.Params = json.RawMessage(params)
	}
	if pre != "" {
		f.Preflight = json.RawMessage(pre)
	}
	if cp != "" {
		if err := json.Unmarshal([]byte(cp), &f.Checkpoint); err != nil {
			return nil, fmt.Errorf("decode checkpoint of file %d: %w", f.ID, err)
		}
	}
	f.CreatedAt, f.UpdatedAt = parseTime(created), parseTime(updated)
	f.StartedAt, f.FinishedAt = parseTime(started), parseTime(finished)
	return &f, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// addFiles records inputs (existing keys are left as they are) and returns
// the rows of all of them, in input order, and how many were new.
//
// A local file whose key is new — its size or mtime changed since it was
// queued, as after `touch`, an edit or a backup tool's restore — continues
// the unfinished (pending or working) record of the same source and params,
// if there is one: that record takes the new key instead of a second record
// being added, so that one source never has two transcripts in flight. A
// record that already uploaded keeps its upload (the bytes of the time of
// the upload): never paying twice matters more than the edit. A finished
// (done or failed) record is left alone and the changed file gets a new
// record, as before: an edited file is transcribed again.
func (s *Store) addFiles(ctx context.Context, inputs []Input, now time.Time) ([]*File, int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("begin: %w", err)
	}
	added := 0
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	ts := formatTime(now)
	unfinished, err := unfinishedBySource(ctx, tx)
	if err != nil {
		return nil, 0, err
	}
	for _, in := range inputs {
		params := string(in.Params)
		if params == "" {
			params = "{}"
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM durascribe_file WHERE input_key = $1`,
			in.Key).Scan(&n); err != nil {
			return nil, 0, fmt.Errorf("read file: %w", err)
		}
		if n > 0 {
			continue
		}
		if id, ok := unfinished[sourceParams{in.Source, params}]; ok && strings.HasPrefix(in.Key, "file:") {
			if _, err := tx.ExecContext(ctx, `UPDATE durascribe_file SET input_key = $1, updated_at = $2
				WHERE id = $3`, in.Key, ts, id); err != nil {
				return nil, 0, fmt.Errorf("adopt file %d: %w", id, err)
			}
			continue
		}
		// An output name is never handed to a second source, whose outputs
		// would replace the first one's: the new input keeps its extension,
		// as with a collision among the inputs of one command, or is refused.
		outName, err := freeOutName(ctx, tx, in)
		if err != nil {
			return nil, 0, err
		}
		cp, _ := json.Marshal(transcribe.Checkpoint{Source: in.Source})
		res, err := tx.ExecContext(ctx, `INSERT INTO durascribe_file
			(input_key, source, out_name, params, checkpoint, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (input_key) DO NOTHING`,
			in.Key, in.Source, outName, params, string(cp), ts)
		if err != nil {
			return nil, 0, fmt.Errorf("insert file: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			added++
		}
	}
	files := make([]*File, 0, len(inputs))
	for _, in := range inputs {
		f, err := scanFile(tx.QueryRowContext(ctx, `SELECT `+fileColumns+` FROM durascribe_file WHERE input_key = $1`, in.Key))
		if err != nil {
			return nil, 0, fmt.Errorf("read file: %w", err)
		}
		files = append(files, f)
	}
	if err := tx.Commit(); err != nil {
		return nil, 0, fmt.Errorf("commit: %w", err)
	}
	return files, added, nil
}

// freeOutName returns in's output name, or its name with the extension
// kept when another source in the store owns that, or ErrOutputCollision.
func freeOutName(ctx context.Context, tx *sql.Tx, in Input) (string, error) {
	owner, err := outOwner(ctx, tx, in.OutName, in.Source)
	if err != nil || owner == "" {
		return in.OutName, err
	}
	if in.fullName != "" && in.fullName != in.OutName {
		other, err := outOwner(ctx, tx, in.fullName, in.Source)
		if err != nil || other == "" {
			return in.fullName, err
		}
		owner = other
	}
	return "", fmt.Errorf("%w: %q would be written as %s.*, the outputs of %q queued earlier "+
		"in this store: rename it, or use another --db", ErrOutputCollision, in.Source,
		sanitizeRel(in.OutName), owner)
}

// outOwner returns the source of the oldest record other than src whose
// output name is name's, ignoring case ("" when there is none). It uses the
// index on lower(out_name), so names are compared as stored and as
// sanitised, not sanitised on both sides: a name stored with control
// characters in it is only caught by the writer's own check.
func outOwner(ctx context.Context, tx *sql.Tx, name, src string) (string, error) {
	var owner string
	err := tx.QueryRowContext(ctx, `SELECT source FROM durascribe_file
		WHERE lower(out_name) IN (lower($1), $2) AND source <> $3 ORDER BY id LIMIT 1`,
		name, outKey(name), src).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up output name: %w", err)
	}
	return owner, nil
}

type sourceParams struct{ source, params string }

// unfinishedBySource maps the source and params of every unfinished local
// file to its record's id (the oldest, should there be several).
func unfinishedBySource(ctx context.Context, tx *sql.Tx) (map[sourceParams]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, source, params FROM durascribe_file
		WHERE state IN ('pending', 'working') AND input_key LIKE 'file:%' ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list unfinished files: %w", err)
	}
	defer rows.Close()
	m := map[sourceParams]int64{}
	for rows.Next() {
		var (
			id  int64
			key sourceParams
		)
		if err := rows.Scan(&id, &key.source, &key.params); err != nil {
			return nil, fmt.Errorf("list unfinished files: %w", err)
		}
		m[key] = id
	}
	return m, rows.Err()
}

// File returns one file by id.
func (s *Store) File(ctx context.Context, id int64) (*File, error) {
	f, err := scanFile(s.db.QueryRowContext(ctx, `SELECT `+fileColumns+` FROM durascribe_file WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get file %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get file %d: %w", id, err)
	}
	return f, nil
}

// Transcript returns the stored transcript body (the API's JSON) of a done
// file.
func (s *Store) Transcript(ctx context.Context, id int64) (json.RawMessage, error) {
	var tr string
	err := s.db.QueryRowContext(ctx, `SELECT transcript FROM durascribe_file WHERE id = $1`, id).Scan(&tr)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get transcript %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get transcript %d: %w", id, err)
	}
	return json.RawMessage(tr), nil
}

// Files lists files in the given states (all when none), oldest first.
func (s *Store) Files(ctx context.Context, states ...State) ([]*File, error) {
	q := `SELECT ` + fileColumns + ` FROM durascribe_file`
	args := make([]any, 0, len(states))
	if len(states) > 0 {
		ph := make([]string, len(states))
		for i, st := range states {
			ph[i] = fmt.Sprintf("$%d", i+1)
			args = append(args, string(st))
		}
		q += ` WHERE state IN (` + strings.Join(ph, ", ") + `)`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	defer rows.Close()
	var files []*File
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("list files: %w", err)
		}
		files = append(files, f)
	}
	return files, rows.Err()
}

// errNotActive means a file is no longer pending or working (a concurrent
// retry, or another worker finished it): the caller must stop.
var errNotActive = errors.New("file is not active")

// saveCheckpoint durably records cp for a file that is pending or working and
// marks it working. It is a single short statement: never called inside a tx.
func (s *Store) saveCheckpoint(ctx context.Context, id int64, cp transcribe.Checkpoint, now time.Time) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	ts := formatTime(now)
	res, err := s.db.ExecContext(ctx, `UPDATE durascribe_file SET checkpoint = $1, stage = $2, transcript_id = $3,
		last_error = $4, state = 'working', updated_at = $5,
		started_at = CASE WHEN started_at = '' THEN $5 ELSE started_at END
		WHERE id = $6 AND state IN ('pending', 'working')`,
		string(b), string(cp.Stage), cp.TranscriptID, logging.RedactText(cp.LastError), ts, id)
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return checkOne(res, id)
}

// errTakenOver means a worker has moved a file past its upload while this
// process was uploading it for enqueue: the worker's checkpoint stands.
var errTakenOver = errors.New("a worker has taken the file over")

// saveUploadCheckpoint is saveCheckpoint for enqueue's local uploads: it
// writes only while no worker has moved the file past its upload. Without
// the guard a worker started during `enqueue --upload` could have its
// transcript id overwritten by the enqueue's upload-only checkpoint, and the
// file would be created again: paid twice.
func (s *Store) saveUploadCheckpoint(ctx context.Context, id int64, cp transcribe.Checkpoint, now time.Time) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE durascribe_file SET checkpoint = $1, stage = $2, last_error = $3,
		updated_at = $4 WHERE id = $5 AND state IN ('pending', 'working') AND stage IN ('', 'upload')`,
		string(b), string(cp.Stage), logging.RedactText(cp.LastError), formatTime(now), id)
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("update file %d: %w", id, errTakenOver)
	}
	return nil
}

// markStarted sets started_at when a file is first worked, so that the
// overall retry limit counts from there.
func (s *Store) markStarted(ctx context.Context, id int64, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE durascribe_file SET started_at = $1 WHERE id = $2 AND started_at = ''`,
		formatTime(now), id)
	if err != nil {
		return fmt.Errorf("mark started: %w", err)
	}
	return nil
}

// setLastError records the error of the last attempt without changing state.
func (s *Store) setLastError(ctx context.Context, id int64, msg string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE durascribe_file SET last_error = $1, updated_at = $2 WHERE id = $3`,
		logging.RedactText(msg), formatTime(now), id)
	if err != nil {
		return fmt.Errorf("record error: %w", err)
	}
	return nil
}

// setPreflight records the pre-flight report (JSON) of a file.
func (s *Store) setPreflight(ctx context.Context, id int64, report []byte) error {
	_, err := s.db.ExecContext(ctx, `UPDATE durascribe_file SET preflight = $1 WHERE id = $2`, string(report), id)
	if err != nil {
		return fmt.Errorf("record preflight: %w", err)
	}
	return nil
}

// markDone stores the transcript and ends the file.
func (s *Store) markDone(ctx context.Context, id int64, cp transcribe.Checkpoint, transcript []byte, now time.Time) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	ts := formatTime(now)
	res, err := s.db.ExecContext(ctx, `UPDATE durascribe_file SET state = 'done', stage = $1, checkpoint = $2,
		transcript_id = $3, transcript = $4, reason = '', updated_at = $5, finished_at = $5
		WHERE id = $6 AND state IN ('pending', 'working')`,
		string(transcribe.StageDone), string(b), cp.TranscriptID, string(transcript), ts, id)
	if err != nil {
		return fmt.Errorf("mark done: %w", err)
	}
	return checkOne(res, id)
}

// markFailed ends the file with a permanent reason.
func (s *Store) markFailed(ctx context.Context, id int64, reason string, now time.Time) error {
	ts := formatTime(now)
	res, err := s.db.ExecContext(ctx, `UPDATE durascribe_file SET state = 'failed', reason = $1, updated_at = $2,
		finished_at = $2 WHERE id = $3 AND state IN ('pending', 'working')`, logging.RedactText(reason), ts, id)
	if err != nil {
		return fmt.Errorf("mark failed: %w", err)
	}
	return checkOne(res, id)
}

// requeue makes a failed (or stuck) file pending again under a new job
// generation. A transcript that ended in error is dropped so that a new one
// is created; any other transcript the file has (say, completed but its
// fetch failed) is fetched again, never paid for twice. The upload_url is
// kept (transcribe re-uploads it when too old), and an unreconciled create
// intent is kept so it is still reconciled first.
func (s *Store) requeue(ctx context.Context, f *File, now time.Time) (*File, error) {
	cp := f.Checkpoint
	switch {
	case cp.TranscriptID != "" && cp.TranscriptFailed:
		cp.TranscriptID, cp.CreatedAt, cp.Polls, cp.TranscriptFailed = "", time.Time{}, 0, false
		cp.Stage = transcribe.StageCreate
	case cp.TranscriptID != "":
		cp.Stage = transcribe.StageWait
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("encode checkpoint: %w", err)
	}
	ts := formatTime(now)
	_, err = s.db.ExecContext(ctx, `UPDATE durascribe_file SET state = 'pending', gen = gen + 1, reason = '',
		checkpoint = $1, stage = $2, transcript_id = '', started_at = '', finished_at = '', updated_at = $3
		WHERE id = $4`, string(b), string(cp.Stage), ts, f.ID)
	if err != nil {
		return nil, fmt.Errorf("requeue file %d: %w", f.ID, err)
	}
	return s.File(ctx, f.ID)
}

func checkOne(res sql.Result, id int64) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("update file %d: %w", id, errNotActive)
	}
	return nil
}

// Count is the number of files in one state and stage.
type Count struct {
	State State            `json:"state"`
	Stage transcribe.Stage `json:"stage"`
	N     int              `json:"n"`
}

// Counts returns how many files are in each state and stage.
func (s *Store) Counts(ctx context.Context) ([]Count, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT state, stage, COUNT(*) FROM durascribe_file GROUP BY state, stage ORDER BY state, stage`)
	if err != nil {
		return nil, fmt.Errorf("count files: %w", err)
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.State, &c.Stage, &c.N); err != nil {
			return nil, fmt.Errorf("count files: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
