// Package ec2query speaks the EC2 query protocol for the simulated region: it
// turns `Action=...&Version=2016-11-15` form requests into calls on a Backend
// and renders the Backend's answers as the XML that the real aws-sdk-go-v2
// EC2 client, the AWS CLI and boto3 parse.
//
// The package knows the wire format and EC2's request validation (parameter
// names, filter names, MaxResults ranges, pagination tokens, DryRun); it knows
// nothing about subnets filling up or ENIs appearing late. That is the model's
// job (package sim), which implements Backend.
//
// Signatures are accepted but not verified: the simulated region runs on
// loopback for tests and demos, so any credentials work.
package ec2query

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
)

// APIVersion is the only EC2 API version the handler answers; every current
// SDK sends it.
const APIVersion = "2016-11-15"

// xmlns is the namespace of every EC2 response document.
const xmlns = "http://ec2.amazonaws.com/doc/" + APIVersion + "/"

// Filter is one EC2 filter: a resource matches when the named attribute has
// any of the values. The handler passes filter names in their canonical form
// (for example "availability-zone", never its alias "availabilityZone") and
// has already rejected names that EC2 does not know for the operation.
type Filter struct {
	Name   string
	Values []string
}

// Subnet is what DescribeSubnets reports about one subnet.
type Subnet struct {
	SubnetID, VpcID, AvailabilityZone, AvailabilityZoneID, CidrBlock, State string
	AvailableIPAddressCount                                                 int
	Tags                                                                    map[string]string
}

// Vpc is what DescribeVpcs reports about one VPC. CidrAssociationID is
// the association of its primary CIDR block (cidrBlockAssociationSet).
type Vpc struct {
	VpcID, CidrBlock, State, DhcpOptionsID, CidrAssociationID string
	IsDefault                                                 bool
	Tags                                                      map[string]string
}

// SecurityGroup is one of an ENI's security groups (groupSet).
type SecurityGroup struct {
	ID, Name string
}

// AvailabilityZone is what DescribeAvailabilityZones reports about one zone.
// State is "available", "impaired" or "unavailable".
type AvailabilityZone struct {
	ZoneName, ZoneID, State, RegionName string
}

// NetworkInterface is one ENI as CreateNetworkInterface and
// DescribeNetworkInterfaces report it. Status is "pending", "available" or
// "in-use"; InterfaceType is "interface" for an ordinary ENI.
// SecondaryPrivateIPAddresses are the ENI's other IPv4 addresses: EC2 lists
// them after the primary in privateIpAddressesSet, and a client counting an
// ENI's addresses reads that set.
type NetworkInterface struct {
	NetworkInterfaceID, SubnetID, VpcID, AvailabilityZone, Description, PrivateIPAddress, Status, InterfaceType string
	MacAddress                                                                                                  string
	RequesterManaged                                                                                            bool
	Tags                                                                                                        map[string]string
	SecondaryPrivateIPAddresses                                                                                 []string
	Groups                                                                                                      []SecurityGroup
}

// CreateNetworkInterfaceInput is the part of a CreateNetworkInterface request
// that decides which subnet the ENI takes its addresses from and how many.
// Tags come from the request's TagSpecification entries for
// "network-interface".
type CreateNetworkInterfaceInput struct {
	SubnetID, Description, PrivateIPAddress string
	SecondaryPrivateIPAddressCount          int
	Tags                                    map[string]string
	// SecurityGroupIDs are the request's SecurityGroupId.N; none means
	// the VPC's default security group, as EC2 does.
	SecurityGroupIDs []string
}

// Error is an EC2 API error: it is written as EC2's XML error document with
// the given HTTP status, and clients see Code as the error code
// (smithy.APIError's ErrorCode() in the Go SDK). A Status of 0 means 400.
type Error struct {
	Code, Message string
	Status        int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// status is the HTTP status to send for e.
func (e *Error) status() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// Backend answers the EC2 operations the simulated region supports. Every
// Describe call gets the explicit ids (empty means all) and the filters; it
// returns the full result in a stable order, and the handler paginates it.
// Return an *Error for API errors such as InvalidSubnetID.NotFound; any other
// error is reported to the client as InternalError (500) and logged.
type Backend interface {
	DescribeSubnets(ctx context.Context, ids []string, filters []Filter) ([]Subnet, error)
	DescribeVpcs(ctx context.Context, ids []string, filters []Filter) ([]Vpc, error)
	DescribeAvailabilityZones(ctx context.Context, names []string, filters []Filter) ([]AvailabilityZone, error)
	CreateNetworkInterface(ctx context.Context, in CreateNetworkInterfaceInput) (NetworkInterface, error)
	DeleteNetworkInterface(ctx context.Context, id string) error
	DescribeNetworkInterfaces(ctx context.Context, ids []string, filters []Filter) ([]NetworkInterface, error)
}

// Option configures the handler made by NewHandler.
type Option func(*handler)

// WithRequestID sets where request IDs come from. The default is random
// version 4 UUIDs from crypto/rand; pass UUIDFrom(seededReader) for
// reproducible IDs.
func WithRequestID(next func() string) Option {
	return func(h *handler) { h.requestID = next }
}

// WithLogger sets the logger for internal errors (always) and requests (at
// debug level). The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(h *handler) { h.log = l }
}

// WithAccountID sets the account that owns every resource (ownerId, and the
// account part of subnet ARNs). The default is 123456789012.
func WithAccountID(id string) Option {
	return func(h *handler) { h.accountID = id }
}

// WithRegion sets the region named in subnet ARNs and private DNS names. The
// default is us-east-1.
func WithRegion(region string) Option {
	return func(h *handler) { h.region = region }
}

type handler struct {
	b         Backend
	requestID func() string
	log       *slog.Logger
	accountID string
	region    string
}

// NewHandler returns an http.Handler that serves one EC2 query request per
// call: a POST with a form body (the SDKs and the CLI) or a GET with a query
// string. It never panics on malformed input; every answer is an XML
// document, either the action's response or EC2's error shape.
func NewHandler(b Backend, opts ...Option) http.Handler {
	h := &handler{
		b:         b,
		requestID: UUIDFrom(nil),
		log:       slog.Default(),
		accountID: "123456789012",
		region:    "us-east-1",
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := h.requestID()
	req, err := ParseRequest(r)
	if err != nil {
		h.fail(w, reqID, "", err)
		return
	}
	op, ok := operations[req.Action]
	if !ok {
		h.fail(w, reqID, req.Action, &Error{
			Code:    "InvalidAction",
			Message: "The action " + clip(req.Action) + " is not valid for this web service.",
		})
		return
	}
	h.log.DebugContext(r.Context(), "ec2 request", "action", req.Action, "request_id", reqID)
	body, err := op(r.Context(), h, req)
	if err != nil {
		h.fail(w, reqID, req.Action, err)
		return
	}
	h.writeResponse(w, reqID, req.Action, body)
}

// fail writes err as EC2's error document. Errors that are not *Error are
// the Backend's internal failures: the client gets EC2's generic
// InternalError and the detail goes to the log, as a real service would not
// leak it.
func (h *handler) fail(w http.ResponseWriter, reqID, action string, err error) {
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		h.log.Error("ec2 request failed internally", "action", action, "request_id", reqID, "err", err)
		apiErr = internalError()
	}
	WriteError(w, reqID, apiErr)
}

func internalError() *Error {
	return &Error{Code: "InternalError", Message: "An internal error has occurred", Status: http.StatusInternalServerError}
}

// operation decodes one action's parameters, calls the Backend and returns
// the response document to marshal.
type operation func(ctx context.Context, h *handler, req *Request) (response, error)

var operations = map[string]operation{
	"DescribeSubnets":           describeSubnets,
	"DescribeVpcs":              describeVpcs,
	"DescribeAvailabilityZones": describeAvailabilityZones,
	"CreateNetworkInterface":    createNetworkInterface,
	"DeleteNetworkInterface":    deleteNetworkInterface,
	"DescribeNetworkInterfaces": describeNetworkInterfaces,
}

// dryRun is EC2's answer to DryRun=true once the request is valid: the
// caller would have been allowed to make it.
func dryRun() *Error {
	return &Error{
		Code:    "DryRunOperation",
		Message: "Request would have succeeded, but DryRun flag is set.",
		Status:  http.StatusPreconditionFailed,
	}
}

func describeSubnets(ctx context.Context, h *handler, req *Request) (response, error) {
	p := newParams(req)
	ids := p.list("SubnetId")
	if err := malformedSubnetID(ids...); err != nil {
		return nil, err
	}
	filters, err := p.filters(subnetFilters)
	if err != nil {
		return nil, err
	}
	pg, err := p.page(req.Action, ids, filters, false)
	if err != nil {
		return nil, err
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	subnets, err := h.b.DescribeSubnets(ctx, ids, filters)
	if err != nil {
		return nil, err
	}
	page, next := paginate(pg, subnets, func(s Subnet) string { return s.SubnetID })
	out := &describeSubnetsResponse{NextToken: next}
	for _, s := range page {
		out.Subnets.Items = append(out.Subnets.Items, h.subnetXML(s))
	}
	return out, nil
}

func describeVpcs(ctx context.Context, h *handler, req *Request) (response, error) {
	p := newParams(req)
	ids := p.list("VpcId")
	filters, err := p.filters(vpcFilters)
	if err != nil {
		return nil, err
	}
	pg, err := p.page(req.Action, ids, filters, false)
	if err != nil {
		return nil, err
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	vpcs, err := h.b.DescribeVpcs(ctx, ids, filters)
	if err != nil {
		return nil, err
	}
	page, next := paginate(pg, vpcs, func(v Vpc) string { return v.VpcID })
	out := &describeVpcsResponse{NextToken: next}
	for _, v := range page {
		out.Vpcs.Items = append(out.Vpcs.Items, h.vpcXML(v))
	}
	return out, nil
}

func describeAvailabilityZones(ctx context.Context, h *handler, req *Request) (response, error) {
	p := newParams(req)
	names := p.list("ZoneName")
	zoneIDs := p.list("ZoneId")
	filters, err := p.filters(zoneFilters)
	if err != nil {
		return nil, err
	}
	// ZoneId.N selects zones exactly as a zone-id filter does, so the Backend
	// needs only one way to select by id.
	if len(zoneIDs) > 0 {
		filters = append(filters, Filter{Name: "zone-id", Values: zoneIDs})
	}
	// Every simulated zone is opted in, so "all zones" and "opted-in zones"
	// are the same list.
	if _, err := p.boolean("AllAvailabilityZones"); err != nil {
		return nil, err
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	zones, err := h.b.DescribeAvailabilityZones(ctx, names, filters)
	if err != nil {
		return nil, err
	}
	out := &describeAvailabilityZonesResponse{}
	for _, z := range zones {
		out.Zones.Items = append(out.Zones.Items, zoneXML(z))
	}
	return out, nil
}

func createNetworkInterface(ctx context.Context, h *handler, req *Request) (response, error) {
	p := newParams(req)
	var in CreateNetworkInterfaceInput
	var ok bool
	if in.SubnetID, ok = p.str("SubnetId"); !ok || in.SubnetID == "" {
		return nil, missingParameter("SubnetId")
	}
	if err := malformedSubnetID(in.SubnetID); err != nil {
		return nil, err
	}
	in.Description, _ = p.str("Description")
	in.PrivateIPAddress, _ = p.str("PrivateIpAddress")
	n, set, err := p.integer("SecondaryPrivateIpAddressCount")
	if err != nil {
		return nil, err
	}
	if set && n < 0 {
		return nil, invalidValue("SecondaryPrivateIpAddressCount", p.raw("SecondaryPrivateIpAddressCount"))
	}
	in.SecondaryPrivateIPAddressCount = n
	if in.Tags, err = p.tagSpecifications("network-interface"); err != nil {
		return nil, err
	}
	clientToken, _ := p.str("ClientToken")
	// These do not change how many IPv4 addresses the ENI takes from its
	// subnet, which is all the simulation models.
	in.SecurityGroupIDs = p.list("SecurityGroupId")
	for _, id := range in.SecurityGroupIDs {
		if !isResourceID(id, "sg") {
			return nil, &Error{Code: "InvalidGroupId.Malformed", Message: fmt.Sprintf("Invalid id: %q (expecting \"sg-...\")", id), Status: http.StatusBadRequest}
		}
	}
	p.ignore("InterfaceType", "ConnectionTrackingSpecification", "Operator")
	// These would: refusing them is more honest than creating an ENI whose
	// address count silently differs from what the caller asked for.
	for _, name := range []string{"PrivateIpAddresses", "Ipv4Prefix", "Ipv4PrefixCount", "Ipv6Addresses", "Ipv6AddressCount", "Ipv6Prefix", "Ipv6PrefixCount", "EnablePrimaryIpv6"} {
		if p.has(name) {
			return nil, &Error{
				Code:    "UnsupportedOperation",
				Message: "The parameter " + name + " is not supported by the simulated region.",
			}
		}
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	eni, err := h.b.CreateNetworkInterface(ctx, in)
	if err != nil {
		return nil, err
	}
	return &createNetworkInterfaceResponse{NetworkInterface: h.eniXML(eni), ClientToken: clientToken}, nil
}

func deleteNetworkInterface(ctx context.Context, h *handler, req *Request) (response, error) {
	p := newParams(req)
	id, ok := p.str("NetworkInterfaceId")
	if !ok || id == "" {
		return nil, missingParameter("NetworkInterfaceId")
	}
	if err := malformedENIID(id); err != nil {
		return nil, err
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	if err := h.b.DeleteNetworkInterface(ctx, id); err != nil {
		return nil, err
	}
	return &deleteNetworkInterfaceResponse{Return: true}, nil
}

func describeNetworkInterfaces(ctx context.Context, h *handler, req *Request) (response, error) {
	p := newParams(req)
	ids := p.list("NetworkInterfaceId")
	if err := malformedENIID(ids...); err != nil {
		return nil, err
	}
	filters, err := p.filters(eniFilters)
	if err != nil {
		return nil, err
	}
	// Managed-resource visibility is not simulated: every ENI is visible.
	if _, err := p.boolean("IncludeManagedResources"); err != nil {
		return nil, err
	}
	// EC2 documents that MaxResults and explicit ENI ids exclude each other
	// for this action.
	pg, err := p.page(req.Action, ids, filters, true)
	if err != nil {
		return nil, err
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	enis, err := h.b.DescribeNetworkInterfaces(ctx, ids, filters)
	if err != nil {
		return nil, err
	}
	page, next := paginate(pg, enis, func(e NetworkInterface) string { return e.NetworkInterfaceID })
	out := &describeNetworkInterfacesResponse{NextToken: next}
	for _, e := range page {
		out.NetworkInterfaces.Items = append(out.NetworkInterfaces.Items, h.eniXML(e))
	}
	return out, nil
}

// privateDNSName is the name EC2 gives a private IPv4 address: us-east-1
// uses the legacy ec2.internal domain, every other region its own.
func (h *handler) privateDNSName(ip string) string {
	if ip == "" {
		return ""
	}
	host := "ip-" + strings.ReplaceAll(ip, ".", "-")
	if h.region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + h.region + ".compute.internal"
}

// Operations lists the EC2 actions the handler serves, sorted.
func Operations() []string {
	out := make([]string, 0, len(operations))
	for op := range operations {
		out = append(out, op)
	}
	sort.Strings(out)
	return out
}

// isResourceID reports whether id is prefix- followed by 8 or 17 lowercase
// hexadecimal digits, the only shapes of EC2 resource IDs.
func isResourceID(id, prefix string) bool {
	hex, ok := strings.CutPrefix(id, prefix+"-")
	if !ok || (len(hex) != 8 && len(hex) != 17) {
		return false
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// malformedSubnetID is EC2's answer to a subnet ID of the wrong shape,
// asked for by ID (a filter value is never checked).
func malformedSubnetID(ids ...string) error {
	for _, id := range ids {
		if !isResourceID(id, "subnet") {
			return &Error{Code: "InvalidSubnetID.Malformed", Message: fmt.Sprintf("Invalid id: %q", id), Status: http.StatusBadRequest}
		}
	}
	return nil
}

// malformedENIID is EC2's answer to a network interface ID of the wrong
// shape.
func malformedENIID(ids ...string) error {
	for _, id := range ids {
		if !isResourceID(id, "eni") {
			return &Error{Code: "InvalidNetworkInterfaceId.Malformed", Message: fmt.Sprintf("Invalid id: %q (expecting \"eni-...\")", id), Status: http.StatusBadRequest}
		}
	}
	return nil
}
