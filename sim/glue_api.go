package sim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// glueOps are the Glue operations, by the name in X-Amz-Target.
var glueOps = map[string]func(*Region, []byte) (any, *apiError){
	"CreateConnection": (*Region).glueCreateConnection,
	"GetConnection":    (*Region).glueGetConnection,
	"GetConnections":   (*Region).glueGetConnections,
	"DeleteConnection": (*Region).glueDeleteConnection,
	"CreateJob":        (*Region).glueCreateJob,
	"GetJob":           (*Region).glueGetJob,
	"GetJobs":          (*Region).glueGetJobs,
	"UpdateJob":        (*Region).glueUpdateJob,
	"DeleteJob":        (*Region).glueDeleteJob,
	"StartJobRun":      (*Region).glueStartJobRun,
	"GetJobRun":        (*Region).glueGetJobRun,
	"GetJobRuns":       (*Region).glueGetJobRuns,
	"BatchStopJobRun":  (*Region).glueBatchStopJobRun,
}

// decodeBody decodes a JSON request body (an object; empty means {}).
// Numbers in generic values stay json.Number, so no digit is lost when a
// job definition is stored and echoed back.
func decodeBody(body []byte, v any) *apiError {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	if body[0] != '{' {
		return errSerialization("The request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errSerialization("Could not parse the request body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errSerialization("Unexpected data after the request's JSON object")
	}
	return nil
}

// epoch is a time written as epoch seconds with milliseconds, the JSON
// protocols' default timestamp format.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) { return []byte(epochString(time.Time(e))), nil }

func epochString(t time.Time) string {
	ms := t.UnixMilli()
	if ms < 0 {
		return fmt.Sprintf("%.3f", float64(ms)/1000)
	}
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

func epochNum(t time.Time) json.Number { return json.Number(epochString(t)) }

// pageOf cuts a page from items sorted by key. The token is the key of the
// last item returned, so a page starts after it even if items were added
// or deleted meanwhile.
func pageOf[T any](items []T, key func(T) string, token string, maxResults *int, limit, def int) ([]T, string, *apiError) {
	n := def
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > limit {
			return nil, "", errInvalid("MaxResults must be between 1 and %d, got %d", limit, *maxResults)
		}
		n = *maxResults
	}
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(raw) < 2 || raw[0] != 'k' {
			return nil, "", errInvalid("Invalid pagination token")
		}
		last := string(raw[1:])
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > last })
	}
	end := min(start+n, len(items))
	page := items[start:end]
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("k" + key(items[end-1])))
	}
	return page, next, nil
}

func (r *Region) glueCreateConnection(body []byte) (any, *apiError) {
	var in struct {
		CatalogId       string
		ConnectionInput map[string]any
		Tags            map[string]string
	}
	if aerr := decodeBody(body, &in); aerr != nil {
		return nil, aerr
	}
	if in.ConnectionInput == nil {
		return nil, errInvalid("ConnectionInput is required")
	}
	defer r.lock()()
	if _, aerr := r.putConnection(in.ConnectionInput); aerr != nil {
		return nil, aerr
	}
	return map[string]any{"CreateConnectionStatus": "READY"}, nil
}

func connectionOut(c *connection, hidePassword bool) map[string]any {
	out := maps.Clone(c.def)
	out["CreationTime"] = epochNum(c.created)
	out["LastUpdatedTime"] = epochNum(c.updated)
	out["Status"] = "READY"
	if props, ok := c.def["ConnectionProperties"].(map[string]any); ok && hidePassword {
		p := maps.Clone(props)
		delete(p, "PASSWORD")
		out["ConnectionProperties"] = p
	}
	return keepOutputMembers("glue", "Connection", out)
}

func (r *Region) glueGetConnection(body []byte) (any, *apiError) {
	var in struct {
		CatalogId    string
		Name         string
		HidePassword bool
	}
	if aerr := decodeBody(body, &in); aerr != nil {
		return nil, aerr
	}
	defer r.lock()()
	c, ok := r.conns[in.Name]
	if !ok {
		return nil, errNotFound("Connection %s not found.", in.Name)
	}
	return map[string]any{"Connection": connectionOut(c, in.HidePassword)}, nil
}

func (r *Region) glueGetConnections(body []byte) (any, *apiError) {
	var in struct {
		CatalogId string
		Filter    *struct {
			ConnectionType string
			MatchCriteria  []string
		}
		HidePassword bool
		NextToken    string
		MaxResults   *int
	}
	if aerr := decodeBody(body, &in); aerr != nil {
		return nil, aerr
	}
	defer r.lock()()
	var list []*connection
	for _, c := range r.conns {
		if f := in.Filter; f != nil {
			if f.ConnectionType != "" && f.ConnectionType != c.connType {
				continue
			}
			mc, _, _ := strListField(c.def, "MatchCriteria")
			if !containsAll(mc, f.MatchCriteria) {
				continue
			}
		}
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b *connection) int { return strings.Compare(a.name, b.name) })
	page, next, aerr := pageOf(list, func(c *connection) string { return c.name }, in.NextToken, in.MaxResults, 1000, 100)
	if aerr != nil {
		return nil, aerr
	}
	out := make([]map[string]any, len(page))
	for i, c := range page {
		out[i] = connectionOut(c, in.HidePassword)
	}
	resp := map[string]any{"ConnectionList": out}
	if next != "" {
		resp["NextToken"] = next
	}
	return resp, nil
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func (r *Region) glueDeleteConnection(body []byte) (any, *apiError) {
	var in struct {
		CatalogId      string
		ConnectionName string
	}
	if aerr := decodeBody(body, &in); aerr != nil {
		return nil, aerr
	}
	defer r.lock()()
	if _, ok := r.conns[in.ConnectionName]; !ok {
		return nil, errNotFound("Connection %s not found.", in.ConnectionName)
	}
	delete(r.conns, in.ConnectionName)
	return map[string]any{}, nil
}

func (r *Region) glueCreateJob(body []byte) (any, *apiError) {
	var in map[string]any
	if aerr := decodeBody(body, &in); aerr != nil {
		return nil, aerr
	}
	name, _, aerr := strField(in, "Name")
	if aerr != nil {
		return nil, aerr
	}
	if _, aerr := strMapField(in, "Tags"); aerr != nil {
		return nil, aerr
	}
	def := maps.Clone(in)
	delete(def, "Name")
	delete(def, "Tags")
	defer r.lock()()
	if aerr := r.putJob(name, def, true); aerr != nil {
		return nil, aerr
	}
	return map[string]any{"Name": name}, nil
}

// glueUpdateJob replaces the whole definition with JobUpdate, like Glue:
// a field absent from JobUpdate is reset to its default.
func (r *Region) glueUpdateJob(body []byte) (any, *apiError) {
	var in struct {
		JobName   string
		JobUpdate map[string]any
	}
	if aerr := decodeBody(body, &in); aerr != nil {
		return nil, aerr
	}
	if in.JobUpdate == nil {
		return nil, errInvalid("JobUpdate is required")
	}
	defer r.lock()()
	if aerr := r.putJob(in.JobName, in.JobUpdate, false); aerr != nil {
		return nil, aerr
	}
	return map[string]any{"JobName": in.JobName}, nil
}

// jobOut is a job as GetJob shows it: the stored definition plus what Glue
// adds (dates, defaults, the capacity computed from the workers).
func (r *Region) jobOut(j *job) map[string]any {
	out := maps.Clone(j.def)
	out["Name"] = j.name
	out["CreatedOn"] = epochNum(j.created)
	out["LastModifiedOn"] = epochNum(j.modified)
	if _, ok := out["ExecutionProperty"]; !ok {
		out["ExecutionProperty"] = map[string]any{"MaxConcurrentRuns": 1}
	}
	if _, ok := out["Timeout"]; !ok {
		out["Timeout"] = r.sc.Glue.DefaultTimeoutMinutes
	}
	if _, ok := out["MaxRetries"]; !ok {
		out["MaxRetries"] = 0
	}
	if _, ok := out["JobMode"]; !ok {
		out["JobMode"] = "SCRIPT"
	}
	s := j.spec
	maxCap, alloc := capacityOut(s.workerType, s.workers, s.maxCapacity, s.hasMaxCapacity, s.commandName)
	out["MaxCapacity"] = maxCap
	out["AllocatedCapacity"] = alloc
	return keepOutputMembers("glue", "Job", out)
}

func (r *Region) glueGetJob(body []byte) (any, *apiError) {
	var in struct{ JobName string }
	if aerr := decodeBody(body, &in); aerr != nil {
		return nil, aerr
	}
	defer r.lock()()
	j, ok := r.jobs[in.JobName]
	if !ok {
		return nil, errNotFound("Job %s not found", in.JobName)
	}
	return map[string]any{"Job": r.jobOut(j)}, nil
}

func (r *Region) glueGetJobs(body []byte) (any, *apiError) {
	var in struct {
		NextToken  string
		MaxResults *int
	}
	if aerr := decodeBody(body, &in); aerr != nil {
		return nil, aerr
	}
	defer r.lock()()
	names := slices.Sorted(maps.Keys(r.jobs))
	page, next, aerr := pageOf(names, func(s string) string { return s }, in.NextToken, in.MaxResults, 1000, 100)
	if aerr != nil {
		return nil, aerr
	}
	jobs := make([]map[string]any, len(page))
	for i, n := range page {
		jobs[i] = r.jobOut(r.jobs[n])
	}
	resp := map[string]any{"Jobs": jobs}
	if next != "" {
		resp["NextToken"] = next
	}
	return resp, nil
}

// glueDeleteJob is idempotent, as in Glue: deleting a missing job succeeds.
func (r *Region) glueDeleteJob(body []byte) (any, *apiError) {
	var in struct{ JobName string }
	if aerr := decodeBody(body, &in); aerr != nil {
		return nil, aerr
	}
	defer r.lock()()
	if _, ok := r.jobs[in.JobName]; ok {
		delete(r.jobs, in.JobName)
		for _, ru := range r.runOrder {
			if ru.job == in.JobName {
				ru.hidden = true
			}
		}
	}
	return map[string]any{"JobName": in.JobName}, nil
}

func (r *Region) glueStartJobRun(body []byte) (any, *apiError) {
	var in startRunInput
	if aerr := decodeBody(body, &in); aerr != nil {
		return nil, aerr
	}
	if in.JobName == "" {
		return nil, errInvalid("JobName is required")
	}
	defer r.lock()()
	ru, aerr := r.startJobRun(in)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"JobRunId": ru.id}, nil
}

type jobRunJSON struct {
	Id            string
	Attempt       int
	PreviousRunId string `json:",omitempty"`
	JobName       string
	JobMode       string
	// JobRunQueuingEnabled is the run's effective setting (the run's,
	// else the job's).
	JobRunQueuingEnabled bool
	StartedOn            epoch
	LastModifiedOn       epoch
	CompletedOn          *epoch `json:",omitempty"`
	JobRunState          string
	Arguments            map[string]string `json:",omitempty"`
	ErrorMessage         string            `json:",omitempty"`
	PredecessorRuns      []struct{}
	AllocatedCapacity    int
	ExecutionTime        int
	Timeout              int
	MaxCapacity          float64
	WorkerType           string `json:",omitempty"`
	NumberOfWorkers      int    `json:",omitempty"`
	LogGroupName         string
	GlueVersion          string `json:",omitempty"`
	ExecutionClass       string
	// StateDetail is why a WAITING run waits (queue.go).
	StateDetail string `json:",omitempty"`
}

func runOut(ru *run) jobRunJSON {
	out := jobRunJSON{
		Id: ru.id, Attempt: ru.attempt, PreviousRunId: ru.previousRunID, JobName: ru.job, JobMode: "SCRIPT",
		StartedOn: epoch(ru.startedOn), LastModifiedOn: epoch(ru.modifiedOn), JobRunState: ru.state,
		Arguments: ru.args, ErrorMessage: ru.errorMessage, PredecessorRuns: []struct{}{},
		AllocatedCapacity: int(math.Floor(ru.maxCapacity)), ExecutionTime: ru.executionTime(),
		Timeout: ru.timeout, MaxCapacity: ru.maxCapacity, WorkerType: ru.workerType,
		NumberOfWorkers: ru.numberOfWorkers, LogGroupName: "/aws-glue/jobs", GlueVersion: ru.glueVersion,
		ExecutionClass: "STANDARD", JobRunQueuingEnabled: ru.queuing, StateDetail: ru.stateDetail,
	}
	if !ru.completedOn.IsZero() {
		c := epoch(ru.completedOn)
		out.CompletedOn = &c
	}
	return out
}

func (r *Region) glueGetJobRun(body []byte) (any, *apiError) {
	var in struct {
		JobName              string
		RunId                string
		PredecessorsIncluded bool
	}
	if aerr := decodeBody(body, &in); aerr != nil {
		return nil, aerr
	}
	defer r.lock()()
	if _, ok := r.jobs[in.JobName]; !ok {
		return nil, errNotFound("Job %s not found", in.JobName)
	}
	ru, ok := r.runs[in.RunId]
	if !ok || ru.hidden || ru.job != in.JobName {
		return nil, errNotFound("Job Run Id %s not found for job %s", in.RunId, in.JobName)
	}
	return map[string]any{"JobRun": runOut(ru)}, nil
}

func (r *Region) glueGetJobRuns(body []byte) (any, *apiError) {
	var in struct {
		JobName    string
		NextToken  string
		MaxResults *int
	}
	if aerr := decodeBody(body, &in); aerr != nil {
		return nil, aerr
	}
	defer r.lock()()
	if _, ok := r.jobs[in.JobName]; !ok {
		return nil, errNotFound("Job %s not found", in.JobName)
	}
	// Newest first, as Glue lists them; the key sorts that way.
	var list []*run
	for i := len(r.runOrder) - 1; i >= 0; i-- {
		if ru := r.runOrder[i]; ru.job == in.JobName && !ru.hidden {
			list = append(list, ru)
		}
	}
	key := func(ru *run) string { return fmt.Sprintf("%020d", math.MaxUint64-ru.seq) }
	page, next, aerr := pageOf(list, key, in.NextToken, in.MaxResults, 200, 100)
	if aerr != nil {
		return nil, aerr
	}
	runs := make([]jobRunJSON, len(page))
	for i, ru := range page {
		runs[i] = runOut(ru)
	}
	resp := map[string]any{"JobRuns": runs}
	if next != "" {
		resp["NextToken"] = next
	}
	return resp, nil
}

func (r *Region) glueBatchStopJobRun(body []byte) (any, *apiError) {
	var in struct {
		JobName   string
		JobRunIds []string
	}
	if aerr := decodeBody(body, &in); aerr != nil {
		return nil, aerr
	}
	if len(in.JobRunIds) < 1 || len(in.JobRunIds) > 25 {
		return nil, errInvalid("JobRunIds must hold 1 to 25 run IDs, got %d", len(in.JobRunIds))
	}
	type submission struct{ JobName, JobRunId string }
	type errorDetail struct{ ErrorCode, ErrorMessage string }
	type batchError struct {
		JobName, JobRunId string
		ErrorDetail       errorDetail
	}
	out := struct {
		SuccessfulSubmissions []submission
		Errors                []batchError
	}{SuccessfulSubmissions: []submission{}, Errors: []batchError{}}
	defer r.lock()()
	for _, id := range in.JobRunIds {
		ru, ok := r.runs[id]
		switch {
		case !ok || ru.hidden || ru.job != in.JobName:
			out.Errors = append(out.Errors, batchError{in.JobName, id, errorDetail{
				"EntityNotFoundException", fmt.Sprintf("Job Run Id %s not found for job %s", id, in.JobName)}})
		case ru.terminal():
			out.Errors = append(out.Errors, batchError{in.JobName, id, errorDetail{
				"InvalidInputException", fmt.Sprintf("Job run %s is in terminal state %s and cannot be stopped", id, ru.state)}})
		default:
			r.stopRun(ru)
			out.SuccessfulSubmissions = append(out.SuccessfulSubmissions, submission{in.JobName, id})
		}
	}
	return out, nil
}
