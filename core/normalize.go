package core

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// NormalizeText folds a string for exact search: accents removed, lower
// case, inner white space collapsed to one space, trimmed.
func NormalizeText(s string) string {
	if !utf8.ValidString(s) {
		// norm leaves a character after an invalid byte undecomposed, so
		// its accent would survive (and a second pass would remove it).
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// Tokens splits a normalised string into words (letters and digits).
func Tokens(s string) []string {
	return strings.FieldsFunc(NormalizeText(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// Soundex returns the American Soundex code of a word ("" when the word
// has no ASCII letter), used to find names spelled differently.
func Soundex(word string) string {
	codes := map[rune]byte{
		'b': '1', 'f': '1', 'p': '1', 'v': '1',
		'c': '2', 'g': '2', 'j': '2', 'k': '2', 'q': '2', 's': '2', 'x': '2', 'z': '2',
		'd': '3', 't': '3', 'l': '4', 'm': '5', 'n': '5', 'r': '6',
	}
	var out []byte
	var last byte
	for _, r := range NormalizeText(word) {
		if r < 'a' || r > 'z' {
			continue
		}
		c := codes[r]
		if len(out) == 0 {
			out = append(out, byte(unicode.ToUpper(r)))
			last = c
			continue
		}
		if r == 'h' || r == 'w' {
			continue
		}
		if c != 0 && c != last {
			out = append(out, c)
		}
		last = c
		if len(out) == 4 {
			break
		}
	}
	if len(out) == 0 {
		return ""
	}
	for len(out) < 4 {
		out = append(out, '0')
	}
	return string(out)
}

// SoundexPrefix marks a token row (and a search term) that holds a
// Soundex code.
const SoundexPrefix = "~"
