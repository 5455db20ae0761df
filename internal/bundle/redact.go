package bundle

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/durascribe/durascribe/internal/logging"
)

// Marker replaces a secret in text entries.
const Marker = "[redacted]"

// redactor scrubs a fixed set of secrets.
type redactor struct{ secrets [][]byte }

func newRedactor(secrets []string) redactor {
	var r redactor
	for _, s := range secrets {
		if s == "" {
			continue
		}
		r.secrets = append(r.secrets, []byte(s))
	}
	// Longest first, so a secret containing another is replaced whole.
	slices.SortFunc(r.secrets, func(a, b []byte) int { return len(b) - len(a) })
	return r
}

func (r redactor) contains(data []byte) bool {
	for _, s := range r.secrets {
		if bytes.Contains(data, s) {
			return true
		}
	}
	return false
}

// text replaces every secret with Marker and the credentials of every URL
// (userinfo, query values: a webhook URL's ?token=, a signed audio URL) with
// logging.Redacted, whether or not they were listed as secrets.
func (r redactor) text(data []byte) []byte {
	for _, s := range r.secrets {
		if bytes.Contains(data, s) {
			data = bytes.ReplaceAll(data, s, []byte(Marker))
		}
	}
	if bytes.Contains(data, []byte("://")) {
		data = []byte(logging.RedactText(string(data)))
	}
	return data
}

// binary overwrites every secret with zero bytes, keeping the length.
func (r redactor) binary(data []byte) []byte {
	if !r.contains(data) {
		return data
	}
	data = bytes.Clone(data)
	for _, s := range r.secrets {
		for i := bytes.Index(data, s); i >= 0; {
			clear(data[i : i+len(s)])
			j := bytes.Index(data[i+len(s):], s)
			if j < 0 {
				break
			}
			i += len(s) + j
		}
	}
	return data
}

// credentialKeys are parameter names (lower case, without '_' and '-')
// whose values are credentials.
var credentialKeys = map[string]bool{
	"authorization": true, "apikey": true, "xapikey": true, "key": true, "token": true, "accesstoken": true,
	"secret": true, "password": true, "webhookauthheadervalue": true,
}

// isCredential reports whether a parameter name holds a credential.
func isCredential(name string) bool {
	n := strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(name))
	if credentialKeys[n] {
		return true
	}
	for _, suffix := range []string{"apikey", "secret", "token", "password", "authheadervalue"} {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}

// redactParams drops credential fields at any depth of a JSON document.
func redactParams(raw json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep big integers exact
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(dropCredentials(v))
	return b, err
}

func dropCredentials(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, sub := range t {
			if isCredential(k) {
				delete(t, k)
				continue
			}
			t[k] = dropCredentials(sub)
		}
	case []any:
		for i := range t {
			t[i] = dropCredentials(t[i])
		}
	}
	return v
}
