package conformance

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gluenet/gluenet/sim"
)

// modelReport is what testdata/model_check.py prints.
type modelReport struct {
	Botocore     string                     `json:"botocore"`
	Checked      map[string]int             `json:"checked"`
	NotSeen      []string                   `json:"not_seen"`
	ShapesWalked int                        `json:"shapes_walked"`
	Violations   []string                   `json:"violations"`
	Refused      map[string]json.RawMessage `json:"refused"`
}

// TestServiceModels holds every response of every operation the region
// serves to the service models botocore ships (the models the AWS SDKs are
// generated from): no member outside the output shape, no null, every value
// of its shape's type and enum. It also sends requests AWS refuses and
// checks the region refuses them the way AWS does. Like the other
// conformance tests it skips without python3 and boto3, and fails instead
// with CI=true.
func TestServiceModels(t *testing.T) {
	t.Parallel()
	env := clientEnv(t)
	py := pythonWithBoto3(t, env)
	tr := startRegion(t)
	ctl := &scriptControl{tr: tr, states: map[string]sim.State{}}
	ctlSrv := httptest.NewServer(ctl)
	defer ctlSrv.Close()

	script, err := absTestdata("model_check.py")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{script, "--endpoint", tr.endpoint, "--control", ctlSrv.URL, "--ops"}
	served := sim.Operations()
	var all []string
	for _, svc := range []string{"glue", "ec2", "logs"} {
		args = append(args, svc+":"+strings.Join(served[svc], ","))
		for _, op := range served[svc] {
			all = append(all, svc+":"+op)
		}
	}
	stdout, stderr, err := runTool(env, py, args...)
	if err != nil {
		t.Fatalf("model_check.py: %v\nstderr:\n%s", err, stderr)
	}
	var rep modelReport
	if err := json.Unmarshal(stdout, &rep); err != nil {
		t.Fatalf("model_check.py output is not the expected JSON: %v\n%s", err, stdout)
	}
	t.Logf("botocore %s: %d responses of %d operations checked, %d shapes walked", rep.Botocore, total(rep.Checked), len(rep.Checked), rep.ShapesWalked)

	t.Run("every served operation was checked", func(t *testing.T) {
		if len(rep.NotSeen) > 0 {
			t.Errorf("no successful response checked for %v", rep.NotSeen)
		}
		for _, op := range all {
			if rep.Checked[op] == 0 && !slices.Contains(rep.NotSeen, op) {
				t.Errorf("%s: not reported", op)
			}
		}
	})
	t.Run("responses match the output shapes", func(t *testing.T) {
		for _, v := range rep.Violations {
			t.Error(v)
		}
	})

	refusals := []struct {
		key, code, message string
	}{
		{"create_job_notification_property_string", "SerializationException", ""},
		{"create_job_max_retries_string", "SerializationException", ""},
		{"create_job_connections_list", "SerializationException", ""},
		{"get_connection_name_number", "SerializationException", ""},
		{"create_job_without_role", "ValidationException", "'role'"},
		{"get_job_without_name", "ValidationException", "'jobName'"},
		{"get_log_events_without_stream", "InvalidParameterException", "1 validation error detected: Value null at 'logStreamName'"},
		{"describe_subnets_malformed", "InvalidSubnetID.Malformed", "subnet-zz"},
		{"create_eni_malformed_subnet", "InvalidSubnetID.Malformed", "bogus"},
		{"describe_enis_malformed", "InvalidNetworkInterfaceId.Malformed", "eni-nothex"},
		{"delete_eni_malformed", "InvalidNetworkInterfaceId.Malformed", "nope"},
	}
	t.Run("bad requests are refused as AWS refuses them", func(t *testing.T) {
		for _, r := range refusals {
			var got botoError
			if err := json.Unmarshal(rep.Refused[r.key], &got); err != nil {
				t.Errorf("%s: %v", r.key, err)
				continue
			}
			if got.Code != r.code || !strings.Contains(got.Message, r.message) || got.Status != 400 {
				t.Errorf("%s: got %s %d %q, want %s 400 mentioning %q", r.key, got.Code, got.Status, got.Message, r.code, r.message)
			}
		}
		// A member the model does not know and a null are dropped, as AWS
		// ignores them: the job is created, and GetJob (checked against
		// the output shape above) does not echo them.
		for _, key := range []string{"create_job_unknown_member", "create_job_null_member"} {
			var got botoError
			if err := json.Unmarshal(rep.Refused[key], &got); err != nil || got.Code != "" {
				t.Errorf("%s: got %s, want it accepted", key, rep.Refused[key])
			}
		}
		type queuedRun struct {
			State      string `json:"state"`
			Detail     string `json:"detail"`
			Queuing    bool   `json:"queuing"`
			JobQueuing bool   `json:"job_queuing"`
		}
		var queued queuedRun
		want := queuedRun{"WAITING", "Max concurrent job runs per job exceeded", true, true}
		if err := json.Unmarshal(rep.Refused["queued_run"], &queued); err != nil || queued != want {
			t.Errorf("queued run: %s (%v), want %+v", rep.Refused["queued_run"], err, want)
		}
		var jobs []string
		if err := json.Unmarshal(rep.Refused["get_jobs_after"], &jobs); err != nil {
			t.Errorf("GetJobs after the bad requests: %s", rep.Refused["get_jobs_after"])
		}
		for _, j := range jobs {
			if (strings.HasPrefix(j, "BadType") && j != "BadTypeJob4") || j == "NoRoleJob" {
				t.Errorf("a refused CreateJob stored job %s", j)
			}
		}
	})
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
