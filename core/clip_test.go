package core

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"child.name", "child.name"},
		{strings.Repeat("a", MaxEcho), strings.Repeat("a", MaxEcho)},
		{strings.Repeat("a", MaxEcho+1), strings.Repeat("a", MaxEcho) + "...(129 bytes)"},
		// a 3-byte rune across the cut is left out whole, never split
		{strings.Repeat("a", MaxEcho-1) + "€" + "b", strings.Repeat("a", MaxEcho-1) + "...(131 bytes)"},
	}
	for _, tc := range tests {
		got := Clip(tc.in)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("Clip(%d bytes) = %q, want %q", len(tc.in), got, tc.want)
		}
	}
}
