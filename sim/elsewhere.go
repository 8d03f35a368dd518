package sim

import (
	"context"
	"fmt"
	"net/http"
	"regexp"

	"github.com/gluenet/gluenet/sim/ec2query"
)

// The simulated region holds one AWS Region (Scenario.Region). A request
// signed for another Region (the Region in SigV4's credential scope) sees
// that other Region, where nothing of the scenario exists: no job, no
// connection, no VPC, no subnet, no log group. This is how the wrong-region
// mistake (AWS_REGION or --region pointing elsewhere) shows in AWS, and it
// lets users practise it.
//
// Reads answer empty lists and not-found errors, as AWS would. Writes are
// refused with a message saying where the scenario lives: the simulation
// keeps no state for other Regions, and creating resources there by
// mistake is the very slip being practised.

// credentialScopeRE finds the Region in SigV4's Authorization header:
// Credential=AKID/20240611/us-east-1/glue/aws4_request.
var credentialScopeRE = regexp.MustCompile(`Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/`)

// requestRegion is the Region a request was signed for, "" when unsigned.
func requestRegion(req *http.Request) string {
	m := credentialScopeRE.FindStringSubmatch(req.Header.Get("Authorization"))
	if m == nil {
		return ""
	}
	return m[1]
}

// elsewhere reports whether req was signed for another Region than the
// scenario's.
func (r *Region) elsewhere(req *http.Request) (string, bool) {
	reg := requestRegion(req)
	return reg, reg != "" && reg != r.sc.Region
}

// elsewhereJSON answers a Glue or Logs operation in an empty Region.
func (r *Region) elsewhereJSON(service, op, region string) (any, *apiError) {
	if service == "logs" {
		return nil, &apiError{code: "ResourceNotFoundException", msg: "The specified log group does not exist.", status: 400}
	}
	switch op {
	case "GetJobs":
		return map[string]any{"Jobs": []any{}}, nil
	case "GetConnections":
		return map[string]any{"ConnectionList": []any{}}, nil
	case "GetJob", "UpdateJob", "DeleteJob", "StartJobRun", "GetJobRun", "GetJobRuns", "BatchStopJobRun":
		return nil, errNotFound("Job not found in %s (the simulated scenario's resources are in %s)", region, r.sc.Region)
	case "GetConnection", "DeleteConnection":
		return nil, errNotFound("Connection not found in %s (the simulated scenario's resources are in %s)", region, r.sc.Region)
	case "CreateJob", "CreateConnection":
		return nil, errInvalid("The simulated region holds only %s; this request was signed for %s. Set the region to %s.", r.sc.Region, region, r.sc.Region)
	}
	return nil, &apiError{code: "UnknownOperationException", msg: fmt.Sprintf("Unknown operation %s", op), status: 400}
}

// emptyEC2 is EC2 in a Region where the scenario has nothing.
type emptyEC2 struct{}

var _ ec2query.Backend = emptyEC2{}

func (b emptyEC2) DescribeSubnets(_ context.Context, ids []string, _ []ec2query.Filter) ([]ec2query.Subnet, error) {
	if len(ids) > 0 {
		return nil, &ec2query.Error{Code: "InvalidSubnetID.NotFound", Message: fmt.Sprintf("The subnet ID '%s' does not exist", ids[0]), Status: 400}
	}
	return nil, nil
}

func (b emptyEC2) DescribeVpcs(_ context.Context, ids []string, _ []ec2query.Filter) ([]ec2query.Vpc, error) {
	if len(ids) > 0 {
		return nil, &ec2query.Error{Code: "InvalidVpcID.NotFound", Message: fmt.Sprintf("The vpc ID '%s' does not exist", ids[0]), Status: 400}
	}
	return nil, nil
}

func (b emptyEC2) DescribeAvailabilityZones(context.Context, []string, []ec2query.Filter) ([]ec2query.AvailabilityZone, error) {
	return nil, nil
}

func (b emptyEC2) CreateNetworkInterface(_ context.Context, in ec2query.CreateNetworkInterfaceInput) (ec2query.NetworkInterface, error) {
	return ec2query.NetworkInterface{}, &ec2query.Error{Code: "InvalidSubnetID.NotFound", Message: fmt.Sprintf("The subnet ID '%s' does not exist", in.SubnetID), Status: 400}
}

func (b emptyEC2) DeleteNetworkInterface(_ context.Context, id string) error {
	return &ec2query.Error{Code: "InvalidNetworkInterfaceID.NotFound", Message: fmt.Sprintf("The networkInterface ID '%s' does not exist", id), Status: 400}
}

func (b emptyEC2) DescribeNetworkInterfaces(_ context.Context, ids []string, _ []ec2query.Filter) ([]ec2query.NetworkInterface, error) {
	if len(ids) > 0 {
		return nil, &ec2query.Error{Code: "InvalidNetworkInterfaceID.NotFound", Message: fmt.Sprintf("The networkInterface ID '%s' does not exist", ids[0]), Status: 400}
	}
	return nil, nil
}

func (r *Region) elsewhereEC2(region string) http.Handler {
	return ec2query.NewHandler(emptyEC2{},
		ec2query.WithRequestID(r.requestID),
		ec2query.WithLogger(r.log),
		ec2query.WithAccountID(r.sc.AccountID),
		ec2query.WithRegion(region))
}
