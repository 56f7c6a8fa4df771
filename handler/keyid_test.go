package handler_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/tagwarden/tagwarden/handler"
)

func TestValidKeyID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"0d0466b0-e727-4d9c-b35d-f84bb474a37f", true},
		{"k", true},
		{"A_z-09", true},
		{strings.Repeat("k", handler.MaxKeyIDLen), true},
		{"", false},
		{strings.Repeat("k", handler.MaxKeyIDLen+1), false},
		{"../x", false},
		{"a/b", false},
		{"k?x=1", false},
		{" k", false},
		{"k\n", false},
		{"ключ", false},
		{"a.b", false},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.id), func(t *testing.T) {
			err := handler.ValidKeyID(tt.id)
			if got := err == nil; got != tt.want {
				t.Fatalf("ValidKeyID(%q) = %v, want valid %t", tt.id, err, tt.want)
			}
			if err != nil && (!errors.Is(err, handler.ErrInvalid) || !strings.Contains(err.Error(), handler.KeyIDForm)) {
				t.Errorf("error %q: want ErrInvalid saying %q", err, handler.KeyIDForm)
			}
		})
	}
	if !strings.Contains(handler.KeyIDForm, strconv.Itoa(handler.MaxKeyIDLen)) {
		t.Errorf("KeyIDForm %q does not say the longest id, %d", handler.KeyIDForm, handler.MaxKeyIDLen)
	}
}
