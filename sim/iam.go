package sim

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// IAM, as far as a Glue client needs it: GetRole. Airflow's GlueJobHook
// resolves the operator's iam_role_name to a role ARN with GetRole before it
// builds the job definition it compares and updates, so the AWS post's DAG
// cannot run without it.
//
// IAM speaks the query protocol, like EC2, on the same endpoint here (an SDK
// given AWS_ENDPOINT_URL sends every service there). Its requests are told
// apart from EC2's by their API version. The region's roles are the roles
// its Glue jobs run as: a role is known once a job names it (by ARN, or by
// name with the path "/"), which is what a job created through the console
// or CreateJob requires anyway (Glue checks that the role exists).

// iamAPIVersion is the Version parameter of every IAM query request.
const iamAPIVersion = "2010-05-08"

const iamXMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"

// iamAction returns the action of an IAM query request, and false when the
// request is not one (EC2 and IAM share the query protocol).
func iamAction(req *http.Request, body []byte) (url.Values, string, bool) {
	form := url.Values{}
	if req.Method == http.MethodPost {
		if f, err := url.ParseQuery(string(body)); err == nil {
			form = f
		}
	}
	if q, err := url.ParseQuery(req.URL.RawQuery); err == nil {
		for k, v := range q {
			if _, ok := form[k]; !ok {
				form[k] = v
			}
		}
	}
	if form.Get("Version") != iamAPIVersion {
		return nil, "", false
	}
	return form, form.Get("Action"), true
}

// serveIAM answers an IAM query call: faults first (service "iam"), then the
// action.
func (r *Region) serveIAM(w http.ResponseWriter, req *http.Request, form url.Values, action string) {
	reqID := r.requestID()
	v := r.preflight("iam", action)
	if err := r.sleep(req.Context(), v.latency); err != nil {
		return
	}
	switch {
	case v.throttled:
		writeIAMError(w, reqID, &apiError{code: "Throttling", msg: "Rate exceeded", status: http.StatusBadRequest})
		return
	case v.serverError:
		writeIAMError(w, reqID, &apiError{code: "ServiceFailure", msg: "Service failure (simulated)", status: http.StatusInternalServerError})
		return
	}
	var out any
	var aerr *apiError
	switch action {
	case "GetRole":
		out, aerr = r.getRole(form.Get("RoleName"))
	default:
		aerr = &apiError{code: "InvalidAction", msg: fmt.Sprintf("Could not find operation %s for version %s (the simulated region serves IAM GetRole only)", action, iamAPIVersion), status: http.StatusBadRequest}
	}
	if aerr != nil {
		r.countClientError("iam")
		writeIAMError(w, reqID, aerr)
		return
	}
	writeIAMResponse(w, reqID, action, out)
}

// iamRole is the Role element of GetRole.
type iamRole struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleID                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument"`
	MaxSessionDuration       int    `xml:"MaxSessionDuration"`
}

type getRoleResult struct {
	XMLName xml.Name `xml:"GetRoleResult"`
	Role    iamRole  `xml:"Role"`
}

// glueTrustPolicy is the trust policy of a Glue service role; IAM returns
// policy documents URL-encoded.
const glueTrustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"glue.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func (r *Region) getRole(name string) (any, *apiError) {
	if name == "" {
		return nil, &apiError{code: "ValidationError", msg: "1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null", status: http.StatusBadRequest}
	}
	defer r.lock()()
	for _, role := range r.rolesLocked() {
		if role.RoleName == name {
			return getRoleResult{Role: role}, nil
		}
	}
	return nil, &apiError{code: "NoSuchEntity", msg: fmt.Sprintf("The role with name %s cannot be found.", name), status: http.StatusNotFound}
}

// rolesLocked lists the roles the region's jobs run as, by name.
func (r *Region) rolesLocked() []iamRole {
	byName := map[string]iamRole{}
	for _, j := range r.jobs {
		role, ok := r.roleFromJob(j.spec.role)
		if !ok {
			continue
		}
		byName[role.RoleName] = role
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]iamRole, len(names))
	for i, n := range names {
		out[i] = byName[n]
	}
	return out
}

// roleFromJob reads a job's Role (an ARN or a bare name) as an IAM role of
// this region's account.
func (r *Region) roleFromJob(ref string) (iamRole, bool) {
	path, name := "/", ref
	if strings.HasPrefix(ref, "arn:") {
		parts := strings.SplitN(ref, ":", 6)
		if len(parts) != 6 || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") {
			return iamRole{}, false
		}
		res := strings.TrimPrefix(parts[5], "role/")
		i := strings.LastIndex(res, "/")
		path, name = "/"+res[:i+1], res[i+1:]
	}
	if name == "" {
		return iamRole{}, false
	}
	arn := fmt.Sprintf("arn:aws:iam::%s:role%s%s", r.sc.AccountID, path, name)
	return iamRole{
		Path:                     path,
		RoleName:                 name,
		RoleID:                   roleID(arn),
		Arn:                      arn,
		CreateDate:               r.start.UTC().Format(time.RFC3339),
		AssumeRolePolicyDocument: url.QueryEscape(glueTrustPolicy),
		MaxSessionDuration:       3600,
	}, true
}

// roleID derives a stable role ID (AROA + 17 characters) from the ARN, so
// that the same role answers the same ID on every call.
func roleID(arn string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var h uint64 = 14695981039346656037
	for i := 0; i < len(arn); i++ {
		h ^= uint64(arn[i])
		h *= 1099511628211
	}
	b := make([]byte, 17)
	for i := range b {
		b[i] = alphabet[h%32]
		h = h/32 ^ (h << 7) ^ uint64(i)
	}
	return "AROA" + string(b)
}

// iamResponse is <ActionResponse>: the result (whose XMLName is
// <ActionResult>) and the request ID.
type iamResponse struct {
	XMLName  xml.Name
	XMLNS    string `xml:"xmlns,attr"`
	Result   any
	Metadata struct {
		RequestID string `xml:"RequestId"`
	} `xml:"ResponseMetadata"`
}

func writeIAMResponse(w http.ResponseWriter, reqID, action string, result any) {
	out := iamResponse{XMLName: xml.Name{Local: action + "Response"}, XMLNS: iamXMLNS, Result: result}
	out.Metadata.RequestID = reqID
	body, err := xml.Marshal(out)
	if err != nil {
		writeIAMError(w, reqID, &apiError{code: "ServiceFailure", msg: "could not encode the response", status: http.StatusInternalServerError})
		return
	}
	writeXML(w, reqID, http.StatusOK, body)
}

// iamErrorResponse is the query protocol's error shape as IAM sends it.
type iamErrorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	XMLNS   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func writeIAMError(w http.ResponseWriter, reqID string, e *apiError) {
	out := iamErrorResponse{XMLNS: iamXMLNS, RequestID: reqID}
	out.Error.Type = "Sender"
	if e.status >= 500 {
		out.Error.Type = "Receiver"
	}
	out.Error.Code, out.Error.Message = e.code, e.msg
	body, _ := xml.Marshal(out)
	writeXML(w, reqID, e.status, body)
}

func writeXML(w http.ResponseWriter, reqID string, status int, body []byte) {
	b := append([]byte(xml.Header), body...)
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("X-Amzn-RequestId", reqID)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
