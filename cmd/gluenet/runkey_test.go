package main

import (
	"strings"
	"testing"
)

// TestRunKeyPrecedence: --run-key, then GLUENET_RUN_KEY, then Airflow's
// task instance (package runkey's rule), then a new key.
func TestRunKeyPrecedence(t *testing.T) {
	t.Parallel()
	airflow := map[string]string{"AIRFLOW_CTX_DAG_ID": "d", "AIRFLOW_CTX_DAG_RUN_ID": "r", "AIRFLOW_CTX_TASK_ID": "t", "GLUENET_AIRFLOW_MAP_INDEX": "2"}
	withEnv := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range airflow {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string // a prefix of the key
		wantErr string
	}{
		{"flag", []string{"--run-key", "k1"}, withEnv(map[string]string{"GLUENET_RUN_KEY": "k2"}), "k1", ""},
		{"env", nil, withEnv(map[string]string{"GLUENET_RUN_KEY": "k2"}), "k2", ""},
		{"Airflow", nil, airflow, "airflow/d/r/t/2/c0", ""},
		{"Airflow with a bad map index", nil, withEnv(map[string]string{"GLUENET_AIRFLOW_MAP_INDEX": "x"}), "", "GLUENET_AIRFLOW_MAP_INDEX=\"x\" is not a whole number"},
		{"new", nil, nil, "job/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := flagsFor(t, tt.args...)
			got, err := runKey(cmd.Flags(), func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }, "job")
			if tt.wantErr != "" {
				if exitCode(err) != exitUsage || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want a usage error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !strings.HasPrefix(got, tt.want) || (tt.want != "job/" && got != tt.want) {
				t.Fatalf("key %q %v, want %q", got, err, tt.want)
			}
		})
	}
}
