package gluenet

import "testing"

func TestStartInputValidate(t *testing.T) {
	t.Parallel()
	i32 := func(n int32) *int32 { return &n }
	tests := []struct {
		name string
		in   StartInput
		want string // "" = valid
	}{
		{"nothing set", StartInput{}, ""},
		{"one worker, one minute", StartInput{NumberOfWorkers: i32(1), Timeout: i32(1)}, ""},
		{"no workers", StartInput{NumberOfWorkers: i32(0)}, "--workers must be at least 1, got 0"},
		{"negative workers", StartInput{NumberOfWorkers: i32(-3)}, "--workers must be at least 1, got -3"},
		{"no timeout", StartInput{Timeout: i32(0)}, "--timeout must be at least 1 minute, got 0"},
		{"both wrong: workers first", StartInput{NumberOfWorkers: i32(0), Timeout: i32(0)}, "--workers must be at least 1, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}
