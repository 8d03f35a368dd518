package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fuzz targets feed arbitrary input to every parser the package owns
// (Glue and Logs JSON bodies, the dispatcher, the control API, scenario
// YAML). They must never panic (the handler's recover would turn a panic
// into a 500, so a 500 fails them) and must answer in the service's shape.

var (
	fuzzScenarioOnce sync.Once
	fuzzScenario     *Scenario
)

func fuzzRegion(t *testing.T) *Region {
	fuzzScenarioOnce.Do(func() {
		sc, err := LoadScenario("default")
		if err != nil {
			panic(err)
		}
		fuzzScenario = sc
	})
	clock := NewManualClock(t0)
	r, err := New(fuzzScenario, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	// Some state for the reads to find: a run placed in a subnet, with logs.
	rec := call(r, "AWSGlue.UpdateJob", jsonContentType,
		`{"JobName":"AirflowBlogJob","JobUpdate":{"Role":"r","Command":{"Name":"glueetl"},"WorkerType":"G.1X","NumberOfWorkers":2,"Connections":{"Connections":["MWAA-Glue-Blog-Subnet1"]}}}`)
	if rec.Code != 200 {
		t.Fatalf("UpdateJob: %d %s", rec.Code, rec.Body)
	}
	call(r, "AWSGlue.StartJobRun", jsonContentType, `{"JobName":"AirflowBlogJob"}`)
	clock.Advance(2 * time.Minute)
	return r
}

// checkJSONAnswer fails on a 5xx and on an answer that is not the JSON
// protocols' shape.
func checkJSONAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("answer is not a JSON object: %q", rec.Body)
	}
	if rec.Code >= 400 && (body["__type"] == nil || body["__type"] != rec.Header().Get("X-Amzn-ErrorType")) {
		t.Fatalf("error answer without a matching __type: %q", rec.Body)
	}
}

// checkModel checks invariants of the network after any call.
func checkModel(t *testing.T, r *Region) {
	t.Helper()
	for _, s := range r.State().Subnets {
		if s.FreeIPs < 0 || s.FreeIPs > s.Capacity || s.ReportedFreeIPs < 0 || s.ReportedFreeIPs > s.Capacity {
			t.Fatalf("subnet out of bounds: %+v", s)
		}
	}
}

func FuzzGlueRequest(f *testing.F) {
	seeds := []struct{ op, body string }{
		{"GetJob", `{"JobName":"AirflowBlogJob"}`},
		{"GetJobs", `{"MaxResults":1}`},
		{"GetJobs", `{"NextToken":"a0FpcmZsb3dCbG9nSm9i"}`},
		{"CreateJob", `{"Name":"j","Role":"r","Command":{"Name":"glueetl"},"WorkerType":"G.1X","NumberOfWorkers":3,"DefaultArguments":{"a":"b"}}`},
		{"CreateJob", `{"Name":"j","Role":"r","Command":{"Name":"pythonshell"},"MaxCapacity":0.0625,"Timeout":1e3}`},
		{"UpdateJob", `{"JobName":"AirflowBlogJob","JobUpdate":{"Role":"r","Command":{},"MaxCapacity":2,"AllocatedCapacity":2}}`},
		{"UpdateJob", `{"JobName":"AirflowBlogJob","JobUpdate":{"Role":"r","Command":{"Name":"glueetl"},"Connections":{"Connections":["MWAA-Glue-Blog-Subnet2",7]}}}`},
		{"DeleteJob", `{"JobName":"AirflowBlogJob"}`},
		{"StartJobRun", `{"JobName":"AirflowBlogJob","NumberOfWorkers":5,"WorkerType":"G.2X","Timeout":1,"Arguments":{"--x":"y"}}`},
		{"StartJobRun", `{"JobName":"AirflowBlogJob","MaxCapacity":-1}`},
		{"StartJobRun", `{"JobName":"AirflowBlogJob","JobRunId":"jr_x","AllocatedCapacity":3}`},
		{"GetJobRun", `{"JobName":"AirflowBlogJob","RunId":"jr_x"}`},
		{"GetJobRuns", `{"JobName":"AirflowBlogJob","MaxResults":200}`},
		{"BatchStopJobRun", `{"JobName":"AirflowBlogJob","JobRunIds":["jr_x",""]}`},
		{"CreateConnection", `{"ConnectionInput":{"Name":"c","ConnectionType":"NETWORK","ConnectionProperties":{},"PhysicalConnectionRequirements":{"SubnetId":"subnet-0a1b2c3d4e5f60022","SecurityGroupIdList":["sg-1"]}}}`},
		{"CreateConnection", `{"ConnectionInput":{"Name":"c","ConnectionType":"JDBC","ConnectionProperties":{"PASSWORD":"x"}}}`},
		{"GetConnection", `{"Name":"MWAA-Glue-Blog-Subnet1","HidePassword":true}`},
		{"GetConnections", `{"Filter":{"ConnectionType":"NETWORK","MatchCriteria":["a"]},"MaxResults":1000}`},
		{"DeleteConnection", `{"ConnectionName":"MWAA-Glue-Blog-Subnet1"}`},
		{"GetJob", `{"JobName":`},
		{"GetJob", `null`},
		{"GetJob", ``},
		{"Nope", `{}`},
	}
	for _, s := range seeds {
		f.Add(s.op, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		r := fuzzRegion(t)
		checkJSONAnswer(t, call(r, "AWSGlue."+op, jsonContentType, string(body)))
		// Run the model forward: whatever the call scheduled must apply cleanly.
		r.clock.(*ManualClock).Advance(3 * time.Hour)
		checkModel(t, r)
		checkJSONAnswer(t, call(r, "AWSGlue.GetJobRuns", jsonContentType, `{"JobName":"AirflowBlogJob"}`))
	})
}

func FuzzLogsRequest(f *testing.F) {
	seeds := []struct{ op, body string }{
		{"GetLogEvents", `{"logGroupName":"/aws-glue/jobs/output","logStreamName":"s","startFromHead":true,"limit":2}`},
		{"GetLogEvents", `{"logGroupIdentifier":"arn:aws:logs:us-east-1:1:log-group:/aws-glue/jobs/output:*","logStreamName":"s","nextToken":"b/00000000000000000000000000000000000001"}`},
		{"GetLogEvents", `{"logGroupName":"/aws-glue/jobs/output","logStreamName":"s","startTime":-1,"endTime":99999999999999,"nextToken":"f/9"}`},
		{"FilterLogEvents", `{"logGroupName":"/aws-glue/jobs/output","filterPattern":"?driver -ip \"node has\"","limit":1,"nextToken":"n/3"}`},
		{"FilterLogEvents", `{"logGroupName":"/aws-glue/jobs/error","logStreamNames":["a"],"logStreamNamePrefix":"b"}`},
		{"FilterLogEvents", `{"logGroupName":"/aws-glue/jobs/output","filterPattern":"\"unterminated"}`},
		{"PutLogEvents", `{}`},
	}
	for _, s := range seeds {
		f.Add(s.op, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		r := fuzzRegion(t)
		// Point the seeds at the real run's stream.
		runID := r.State().Runs[0].ID
		b := strings.ReplaceAll(string(body), `"s"`, `"`+runID+`"`)
		checkJSONAnswer(t, call(r, "Logs_20140328."+op, jsonContentType, b))
	})
}

func FuzzDispatch(f *testing.F) {
	f.Add("", "application/x-www-form-urlencoded", []byte("Action=DescribeSubnets&Version=2016-11-15&Filter.1.Name=tag:Name&Filter.1.Value.1=Private*"))
	f.Add("", "application/x-www-form-urlencoded", []byte("Action=CreateNetworkInterface&Version=2016-11-15&SubnetId=subnet-0a1b2c3d4e5f60011&SecondaryPrivateIpAddressCount=300"))
	f.Add("", "application/x-www-form-urlencoded", []byte("Action=CreateNetworkInterface&Version=2016-11-15&SubnetId=subnet-0a1b2c3d4e5f60011&PrivateIpAddress=10.192.20.4"))
	f.Add("", "application/x-www-form-urlencoded", []byte("Action=DeleteNetworkInterface&Version=2016-11-15&NetworkInterfaceId=eni-1"))
	f.Add("", "application/x-www-form-urlencoded", []byte("Action=DescribeNetworkInterfaces&Version=2016-11-15&Filter.1.Name=requester-managed&Filter.1.Value.1=true"))
	f.Add("", "text/plain", []byte("%%%"))
	f.Add("AWSGlue.GetJob", "application/x-amz-json-1.1", []byte(`{"JobName":"AirflowBlogJob"}`))
	f.Add("Logs_20140328.GetLogEvents", "application/x-amz-json-1.1", []byte(`{}`))
	f.Add("Weird", "", []byte(`{}`))
	f.Fuzz(func(t *testing.T, target, contentType string, body []byte) {
		r := fuzzRegion(t)
		rec := call(r, target, contentType, string(body))
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		checkModel(t, r)
	})
}

func FuzzControl(f *testing.F) {
	f.Add("POST", "az", []byte(`{"az":"us-east-1a","state":"degraded"}`))
	f.Add("POST", "throttle", []byte(`{"service":"*","rate":1}`))
	f.Add("POST", "errors", []byte(`{"service":"logs","rate":0.5}`))
	f.Add("POST", "latency", []byte(`{"service":"glue","latency":"-5s"}`))
	f.Add("POST", "exhaust", []byte(`{"subnet_id":"subnet-0a1b2c3d4e5f60011","leave_free":0}`))
	f.Add("POST", "exhaust", []byte(`{"subnet_id":"subnet-0a1b2c3d4e5f60011","leave_free":1e9}`))
	f.Add("GET", "state", []byte(nil))
	f.Add("POST", "stats/reset", []byte(`x`))
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		r := fuzzRegion(t)
		req, err := http.NewRequest(method, "http://sim/_sim/"+path, strings.NewReader(string(body)))
		if err != nil {
			return // not an HTTP request a client could send
		}
		rec := httptest.NewRecorder()
		r.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("status %d: %q", rec.Code, rec.Body)
		}
		checkModel(t, r)
	})
}

func FuzzScenario(f *testing.F) {
	for _, name := range BuiltinScenarios() {
		b, err := BuiltinScenarioSource(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "background: [{subnet: subnet-a, enis: 251}]\nfaults: [{at: 1s, exhaust: {subnet: subnet-a, leave_free: 9}}]\n"))
	f.Add([]byte("vpc: {id: vpc-1, cidr: 10.0.0.0/16}\nsubnets: [{id: subnet-a, cidr: 10.0.0.0/28, az: us-east-1a}]\njobs: [{name: j, role: r, workers: 2, worker_type: G.1X, startup: 1ns}]\n"))
	f.Add([]byte("seed: [1]\n"))
	f.Add([]byte("{{{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := ParseScenario(data)
		if err != nil {
			return
		}
		// A scenario that validates must build: Validate is the contract.
		clock := NewManualClock(t0)
		r, err := New(sc, WithClock(clock))
		if err != nil {
			t.Fatalf("valid scenario does not build: %v", err)
		}
		clock.Advance(24 * time.Hour)
		checkModel(t, r)
	})
}
