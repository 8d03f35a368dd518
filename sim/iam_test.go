package sim

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// iamGet posts an IAM query request the way botocore does (form body,
// Version 2010-05-08) and returns the status and body.
func iamGet(t *testing.T, e *env, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, InProcessEndpoint+"/", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	resp, err := e.r.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestIAMGetRole(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	// A job created through the API with a bare role name makes that role
	// known too, with the path "/".
	_, err := e.glue.CreateJob(context.Background(), &glue.CreateJobInput{
		Name: aws.String("bare-role-job"), Role: aws.String("PlainRole"),
		Command:         &gluetypes.JobCommand{Name: aws.String("glueetl"), ScriptLocation: aws.String("s3://b/s.py")},
		WorkerType:      gluetypes.WorkerTypeG1x,
		NumberOfWorkers: aws.Int32(2),
	})
	if err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	tests := []struct {
		name, role string
		status     int
		want       []string
	}{
		{"role with a path, by name", "AWSGlueServiceRole-Blog", 200, []string{
			"<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">",
			"<GetRoleResult><Role><Path>/service-role/</Path><RoleName>AWSGlueServiceRole-Blog</RoleName>",
			"<Arn>arn:aws:iam::123456789012:role/service-role/AWSGlueServiceRole-Blog</Arn>",
			"<RequestId>"}},
		{"role of a job created with a bare name", "PlainRole", 200, []string{
			"<Path>/</Path><RoleName>PlainRole</RoleName>", "<Arn>arn:aws:iam::123456789012:role/PlainRole</Arn>"}},
		{"unknown role", "NoSuchRole", 404, []string{"<Code>NoSuchEntity</Code>", "The role with name NoSuchRole cannot be found.", "<Type>Sender</Type>"}},
		{"no role name", "", 400, []string{"<Code>ValidationError</Code>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"Action": {"GetRole"}, "Version": {iamAPIVersion}}
			if tt.role != "" {
				form.Set("RoleName", tt.role)
			}
			status, body := iamGet(t, e, form)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
			var v any
			if err := xml.Unmarshal([]byte(body), &v); err != nil {
				t.Errorf("not XML: %v", err)
			}
		})
	}
	t.Run("same role ID on every call", func(t *testing.T) {
		form := url.Values{"Action": {"GetRole"}, "Version": {iamAPIVersion}, "RoleName": {"AWSGlueServiceRole-Blog"}}
		_, a := iamGet(t, e, form)
		_, b := iamGet(t, e, form)
		id := func(s string) string { return s[strings.Index(s, "<RoleId>"):strings.Index(s, "</RoleId>")] }
		if id(a) != id(b) || !strings.HasPrefix(id(a), "<RoleId>AROA") {
			t.Errorf("role IDs %q and %q", id(a), id(b))
		}
	})
	t.Run("other IAM actions are refused, EC2 still answers", func(t *testing.T) {
		status, body := iamGet(t, e, url.Values{"Action": {"ListRoles"}, "Version": {iamAPIVersion}})
		if status != 400 || !strings.Contains(body, "<Code>InvalidAction</Code>") {
			t.Errorf("ListRoles: %d %s", status, body)
		}
		status, body = iamGet(t, e, url.Values{"Action": {"DescribeSubnets"}, "Version": {"2016-11-15"}})
		if status != 200 || !strings.Contains(body, "subnet-0a1b2c3d4e5f60011") {
			t.Errorf("DescribeSubnets: %d %s", status, body)
		}
	})
}
