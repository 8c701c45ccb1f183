package mosipmock

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxBody bounds every request body the mock reads.
const maxBody = 8 << 20

// mosipErr is one entry of a MOSIP envelope's errors.
type mosipErr struct {
	ErrorCode string `json:"errorCode"`
	Message   string `json:"message"`
}

func responseTime() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers a MOSIP kernel-style error envelope.
func writeError(w http.ResponseWriter, status int, id, code, msg string) {
	var idv any
	if id != "" {
		idv = id
	}
	writeJSON(w, status, map[string]any{
		"id": idv, "version": "v1", "responsetime": responseTime(), "metadata": nil, "response": nil,
		"errors": []mosipErr{{ErrorCode: code, Message: msg}},
	})
}

// readJSON decodes a JSON body into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("body unreadable: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return b, fmt.Errorf("body is not valid JSON: %w", err)
	}
	return b, nil
}

// newUUID is a random RFC 4122 version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// randomDigits is n random decimal digits, the first not 0.
func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	if n > 0 && b[0] == '0' {
		b[0] = '1' + b[0]%9
	}
	return string(b)
}
