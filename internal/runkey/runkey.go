// Package runkey is the rule that names a run: the key under which gluenet
// records it, so that a retry of the same work finds the run an earlier try
// started instead of starting a second one. The Airflow rule here is the
// one python/src/gluenet_airflow/_gluenet.py (run_key) follows; the cases
// in testdata/airflow-run-keys.json hold both to it.
package runkey

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// TaskInstance is what identifies one Airflow task instance's work.
type TaskInstance struct {
	DagID, RunID, TaskID string
	// MapIndex is the instance's index in a mapped task; -1 when the task
	// is not mapped.
	MapIndex int
	// Generation is the task instance's max_tries minus the task's retries:
	// 0 until the instance is first cleared, then the try number at which
	// it was last cleared. It changes on every clear and never on a retry.
	Generation int
}

// Airflow is a task instance's key:
// airflow/<dag>/<run>/<task>[/<map index>]/c<generation>, the map index
// only for a mapped instance, a negative generation counted as 0.
func Airflow(ti TaskInstance) string {
	var b strings.Builder
	b.WriteString("airflow/" + ti.DagID + "/" + ti.RunID + "/" + ti.TaskID)
	if ti.MapIndex >= 0 {
		b.WriteString("/" + strconv.Itoa(ti.MapIndex))
	}
	fmt.Fprintf(&b, "/c%d", max(ti.Generation, 0))
	return b.String()
}

// Environment variables a task's environment holds. Airflow sets the
// AIRFLOW_CTX_* ones for every task (2.10 and 3 alike); it sets nothing for
// the map index or the clears, so a BashOperator passes them itself (see
// docs/state-and-run-keys.md).
const (
	EnvDagID      = "AIRFLOW_CTX_DAG_ID"
	EnvDagRunID   = "AIRFLOW_CTX_DAG_RUN_ID"
	EnvTaskID     = "AIRFLOW_CTX_TASK_ID"
	EnvMapIndex   = "GLUENET_AIRFLOW_MAP_INDEX"  // {{ ti.map_index }}
	EnvGeneration = "GLUENET_AIRFLOW_GENERATION" // {{ ti.max_tries - task.retries }}
)

// FromAirflowEnv is the key of the task instance whose environment getenv
// reads; ok is false outside Airflow (the AIRFLOW_CTX_* variables unset).
// Without EnvMapIndex the instance counts as unmapped, without
// EnvGeneration as never cleared; a value that is not a whole number is an
// error that says what to set.
func FromAirflowEnv(getenv func(string) (string, bool)) (key string, ok bool, err error) {
	dag, ok1 := getenv(EnvDagID)
	run, ok2 := getenv(EnvDagRunID)
	task, ok3 := getenv(EnvTaskID)
	if !ok1 || !ok2 || !ok3 {
		return "", false, nil
	}
	ti := TaskInstance{DagID: dag, RunID: run, TaskID: task, MapIndex: -1}
	for _, v := range []struct {
		name, template string
		dst            *int
	}{
		{EnvMapIndex, "{{ ti.map_index }}", &ti.MapIndex},
		{EnvGeneration, "{{ ti.max_tries - task.retries }}", &ti.Generation},
	} {
		s, set := getenv(v.name)
		if !set || strings.TrimSpace(s) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return "", true, fmt.Errorf("%s=%q is not a whole number: set it to %q in the task's env", v.name, s, v.template)
		}
		*v.dst = n
	}
	return Airflow(ti), true, nil
}

// New is a fresh key for a run no orchestrator names:
// <job>/<UTC time>/<8 hex digits>.
func New(job string, now time.Time, r *rand.Rand) string {
	return fmt.Sprintf("%s/%s/%08x", job, now.UTC().Format("20060102T150405Z"), r.Uint32())
}
