package runkey

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// airflowCases is the shared test data: python/tests/test_units.py reads
// the same file, so that Go and Python give the same keys.
type airflowCases struct {
	Cases []struct {
		Name string `json:"name"`
		TI   struct {
			DagID    string `json:"dag_id"`
			RunID    string `json:"run_id"`
			TaskID   string `json:"task_id"`
			MapIndex int    `json:"map_index"`
			MaxTries int    `json:"max_tries"`
			Retries  int    `json:"retries"`
		} `json:"ti"`
		Env map[string]string `json:"env"`
		Key string            `json:"key"`
	} `json:"cases"`
}

func TestAirflowKeysSharedWithPython(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../testdata/airflow-run-keys.json")
	if err != nil {
		t.Fatal(err)
	}
	var data airflowCases
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Cases) < 5 {
		t.Fatalf("%d cases: the file lost its cases", len(data.Cases))
	}
	for _, c := range data.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			got, ok, err := FromAirflowEnv(func(k string) (string, bool) { v, ok := c.Env[k]; return v, ok })
			if err != nil || !ok || got != c.Key {
				t.Errorf("from the environment: %q %v %v, want %q", got, ok, err, c.Key)
			}
			ti := TaskInstance{DagID: c.TI.DagID, RunID: c.TI.RunID, TaskID: c.TI.TaskID, MapIndex: c.TI.MapIndex, Generation: c.TI.MaxTries - c.TI.Retries}
			if got := Airflow(ti); got != c.Key {
				t.Errorf("from the task instance: %q, want %q", got, c.Key)
			}
		})
	}
}

func TestFromAirflowEnv(t *testing.T) {
	t.Parallel()
	base := map[string]string{EnvDagID: "d", EnvDagRunID: "r", EnvTaskID: "t"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		if v == "<unset>" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		ok      bool
		wantErr string
	}{
		{"outside Airflow", nil, "", false, ""},
		{"no task id: not Airflow's task environment", with(EnvTaskID, "<unset>"), "", false, ""},
		{"Airflow's variables alone", base, "airflow/d/r/t/c0", true, ""},
		{"map index", with(EnvMapIndex, "3"), "airflow/d/r/t/3/c0", true, ""},
		{"map index not a number", with(EnvMapIndex, "three"), "", true, `GLUENET_AIRFLOW_MAP_INDEX="three" is not a whole number: set it to "{{ ti.map_index }}"`},
		{"generation not a number", with(EnvGeneration, "1.5"), "", true, `set it to "{{ ti.max_tries - task.retries }}"`},
		{"an unrendered template", with(EnvGeneration, "{{ ti.max_tries - task.retries }}"), "", true, "is not a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok, err := FromAirflowEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || ok != tt.ok || got != tt.want {
				t.Fatalf("got %q %v %v, want %q %v", got, ok, err, tt.want, tt.ok)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 6, 30, 5, 0, time.FixedZone("CET", 3600))
	a := New("job", now, rand.New(rand.NewPCG(1, 2)))
	b := New("job", now, rand.New(rand.NewPCG(3, 4)))
	if !regexp.MustCompile(`^job/20261207T053005Z/[0-9a-f]{8}$`).MatchString(a) || a == b {
		t.Fatalf("keys %q and %q", a, b)
	}
}
