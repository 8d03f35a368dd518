package ec2query

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// maxBodyBytes bounds a request body. EC2 requests are small forms; the
// largest realistic one (1000 ids and 200 filter values) is well under this.
const maxBodyBytes = 1 << 20

// Request is one parsed EC2 query request: the action, the API version and
// every other parameter by its wire name ("SubnetId.1", "Filter.2.Value.1").
// Signature parameters of presigned URLs are dropped: the simulated region
// does not verify signatures.
type Request struct {
	Action  string
	Version string
	// Params holds each remaining parameter's first value. The SDKs never
	// repeat a name, so a repeat carries no meaning worth an error.
	Params map[string]string
}

// ParseRequest reads the form of an EC2 query request: the query string, and
// for a POST the url-encoded body (whose values win over the query string's).
// The error, if any, is an *Error carrying EC2's code for the problem:
// MalformedQueryString, MissingAction, MissingParameter (Version) or
// NoSuchVersion. Whether the action exists is left to the caller.
func ParseRequest(r *http.Request) (*Request, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, malformed()
	}
	if r.Method == http.MethodPost && r.Body != nil && isFormBody(r.Header.Get("Content-Type")) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if err != nil {
			return nil, malformed()
		}
		if len(body) > maxBodyBytes {
			return nil, &Error{Code: "MalformedQueryString", Message: "The request body is larger than the simulated region accepts.", Status: http.StatusRequestEntityTooLarge}
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, malformed()
		}
		for k, v := range values {
			if _, ok := form[k]; !ok {
				form[k] = v
			}
		}
		values = form
	}

	req := &Request{Params: make(map[string]string, len(values))}
	for k, v := range values {
		if len(v) == 0 || isAuthParam(k) {
			continue
		}
		switch k {
		case "Action":
			req.Action = v[0]
		case "Version":
			req.Version = v[0]
		default:
			req.Params[k] = v[0]
		}
	}
	if req.Action == "" {
		return nil, &Error{Code: "MissingAction", Message: "The request must contain the parameter Action"}
	}
	if req.Version == "" {
		return nil, missingParameter("Version")
	}
	if req.Version != APIVersion {
		return nil, &Error{Code: "NoSuchVersion", Message: "The requested version (" + req.Version + ") of service AmazonEC2 does not exist"}
	}
	return req, nil
}

// isFormBody reports whether a POST body holds the form. The SDKs always say
// application/x-www-form-urlencoded; a missing Content-Type is read as a
// form too, as curl users expect.
func isFormBody(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// isAuthParam reports whether a query parameter belongs to request signing
// (SigV4 presigned URLs, or SigV2) rather than to the action.
func isAuthParam(k string) bool {
	if strings.HasPrefix(k, "X-Amz-") {
		return true
	}
	switch k {
	case "AWSAccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "Timestamp", "Expires":
		return true
	}
	return false
}

func malformed() *Error {
	return &Error{Code: "MalformedQueryString", Message: "The query string contains a syntax error.", Status: http.StatusNotFound}
}

func missingParameter(name string) *Error {
	return &Error{Code: "MissingParameter", Message: "The request must contain the parameter " + name}
}

// invalidValue follows the wording EC2 uses for a bad scalar, e.g.
// "Value ( 1 ) for parameter maxResults is invalid."
func invalidValue(name, value string) *Error {
	return &Error{Code: "InvalidParameterValue", Message: "Value ( " + clip(value) + " ) for parameter " + name + " is invalid."}
}

// clip keeps echoed client input short in error messages.
func clip(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// params decodes one action's parameters and remembers which it consumed, so
// that finish can reject any parameter the action does not have, the way EC2
// answers UnknownParameter. That strictness is what catches a client that
// serializes a list under the wrong name.
type params struct {
	v    map[string]string
	used map[string]bool
}

func newParams(req *Request) *params {
	return &params{v: req.Params, used: make(map[string]bool, len(req.Params))}
}

func (p *params) str(name string) (string, bool) {
	v, ok := p.v[name]
	if ok {
		p.used[name] = true
	}
	return v, ok
}

// raw returns a value without consuming it, for error messages.
func (p *params) raw(name string) string { return p.v[name] }

// has reports whether the parameter, or any member of it, is present.
func (p *params) has(name string) bool {
	for k := range p.v {
		if k == name || strings.HasPrefix(k, name+".") {
			return true
		}
	}
	return false
}

// ignore consumes parameters that EC2 accepts but the simulation has no use
// for.
func (p *params) ignore(names ...string) {
	for k := range p.v {
		for _, name := range names {
			if k == name || strings.HasPrefix(k, name+".") {
				p.used[k] = true
			}
		}
	}
}

func (p *params) boolean(name string) (bool, error) {
	v, ok := p.str(name)
	if !ok {
		return false, nil
	}
	switch {
	case strings.EqualFold(v, "true"):
		return true, nil
	case strings.EqualFold(v, "false"):
		return false, nil
	}
	return false, invalidValue(name, v)
}

// integer returns the parameter's value and whether it was given.
func (p *params) integer(name string) (int, bool, error) {
	v, ok := p.str(name)
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, true, invalidValue(name, v)
	}
	return int(n), true, nil
}

// index parses the N of a list member: a positive decimal without leading
// zeros, as every client writes it. Anything else is not a list member.
func index(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || strconv.Itoa(n) != s {
		return 0, false
	}
	return n, true
}

// indexed collects the members prefix.N (and, with a non-empty suffix,
// prefix.N.suffix) in the order of N, consuming them. EC2 lists are
// 1-based and may skip numbers; only the order matters.
func (p *params) indexed(prefix, suffix string) (ns []int, vals map[int]string) {
	vals = map[int]string{}
	for k, v := range p.v {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		if suffix != "" {
			if rest, ok = strings.CutSuffix(rest, "."+suffix); !ok {
				continue
			}
		}
		n, ok := index(rest)
		if !ok {
			continue
		}
		p.used[k] = true
		vals[n] = v
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns, vals
}

// list decodes a flat list of strings such as SubnetId.1, SubnetId.2.
func (p *params) list(name string) []string {
	ns, vals := p.indexed(name, "")
	var out []string // nil when absent: the Backend reads that as "all"
	for _, n := range ns {
		out = append(out, vals[n])
	}
	return out
}

// subFields returns the distinct N of every prefix.N.* parameter, sorted.
func (p *params) subFields(prefix string) []int {
	seen := map[int]bool{}
	for k := range p.v {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		head, _, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		if n, ok := index(head); ok {
			seen[n] = true
		}
	}
	ns := make([]int, 0, len(seen))
	for n := range seen {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// maxFilterValues is EC2's limit on filter values in one call.
const maxFilterValues = 200

// filters decodes Filter.N.Name and Filter.N.Value.M, checks each name
// against the action's filters and returns them in the order of N with
// aliases replaced by canonical names.
func (p *params) filters(known filterSet) ([]Filter, error) {
	var out []Filter
	total := 0
	for _, n := range p.subFields("Filter") {
		prefix := "Filter." + strconv.Itoa(n)
		name, ok := p.str(prefix + ".Name")
		ms, vals := p.indexed(prefix+".Value", "")
		if !ok {
			return nil, &Error{Code: "InvalidParameterValue", Message: "The filter 'null' is invalid"}
		}
		canonical, ok := known.canonical(name)
		if !ok {
			return nil, &Error{Code: "InvalidParameterValue", Message: "The filter '" + clip(name) + "' is invalid"}
		}
		f := Filter{Name: canonical, Values: make([]string, 0, len(ms))}
		for _, m := range ms {
			f.Values = append(f.Values, vals[m])
		}
		total += len(f.Values)
		if total > maxFilterValues {
			return nil, &Error{Code: "FilterLimitExceeded", Message: "The maximum number of filter values specified on a single call is " + strconv.Itoa(maxFilterValues)}
		}
		out = append(out, f)
	}
	return out, nil
}

// Tag limits EC2 enforces on every resource.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// tagSpecifications decodes TagSpecification.N.ResourceType and
// TagSpecification.N.Tag.M.Key/Value into one tag map for the only resource
// type the action creates.
func (p *params) tagSpecifications(resourceType string) (map[string]string, error) {
	var tags map[string]string
	for _, n := range p.subFields("TagSpecification") {
		prefix := "TagSpecification." + strconv.Itoa(n)
		rt, ok := p.str(prefix + ".ResourceType")
		if !ok {
			return nil, missingParameter(prefix + ".ResourceType")
		}
		if rt != resourceType {
			return nil, &Error{Code: "InvalidParameterValue", Message: "'" + clip(rt) + "' is not a valid taggable resource type for this operation."}
		}
		for _, m := range p.subFields(prefix + ".Tag") {
			tp := prefix + ".Tag." + strconv.Itoa(m)
			key, ok := p.str(tp + ".Key")
			value, _ := p.str(tp + ".Value")
			switch {
			case !ok || key == "":
				return nil, &Error{Code: "InvalidParameterValue", Message: "Tag keys must not be empty."}
			case strings.HasPrefix(strings.ToLower(key), "aws:"):
				return nil, &Error{Code: "InvalidParameterValue", Message: "Tag keys starting with 'aws:' are reserved for internal use"}
			case len(key) > maxTagKeyLen:
				return nil, invalidValue("tag key", key)
			case len(value) > maxTagValueLen:
				return nil, invalidValue("tag value", value)
			}
			if _, dup := tags[key]; dup {
				return nil, &Error{Code: "InvalidParameterValue", Message: "Duplicate tag key '" + clip(key) + "' specified."}
			}
			if tags == nil {
				tags = map[string]string{}
			}
			tags[key] = value
			if len(tags) > maxTags {
				return nil, &Error{Code: "TagLimitExceeded", Message: "The maximum number of tags per resource is " + strconv.Itoa(maxTags)}
			}
		}
	}
	return tags, nil
}

// MaxResults bounds shared by DescribeSubnets, DescribeVpcs and
// DescribeNetworkInterfaces.
const (
	minMaxResults = 5
	maxMaxResults = 1000
)

// page reads MaxResults and NextToken. The token is checked here, before the
// Backend runs, so a bad one costs nothing.
func (p *params) page(action string, ids []string, filters []Filter, idsExcludeMax bool) (pageRequest, error) {
	var pg pageRequest
	max, set, err := p.integer("MaxResults")
	if err != nil {
		return pg, err
	}
	if set {
		if idsExcludeMax && len(ids) > 0 {
			return pg, &Error{Code: "InvalidParameterCombination", Message: "The parameter " + idSetName[action] + " cannot be used with the parameter maxResults"}
		}
		switch {
		case max < minMaxResults:
			return pg, &Error{Code: "InvalidParameterValue", Message: "Value ( " + strconv.Itoa(max) + " ) for parameter maxResults is invalid. Expecting a value greater than " + strconv.Itoa(minMaxResults) + "."}
		case max > maxMaxResults:
			return pg, &Error{Code: "InvalidParameterValue", Message: "Value ( " + strconv.Itoa(max) + " ) for parameter maxResults is invalid. Expecting a value less than " + strconv.Itoa(maxMaxResults) + "."}
		}
		pg.max = max
	}
	pg.query = queryKey(action, ids, filters)
	if tok, ok := p.str("NextToken"); ok {
		t, err := decodeToken(tok, pg.query)
		if err != nil {
			return pg, err
		}
		pg.from = &t
	}
	return pg, nil
}

// idSetName is EC2's internal name of each action's id list, which its
// InvalidParameterCombination messages use.
var idSetName = map[string]string{
	"DescribeNetworkInterfaces": "networkInterfaceIdSet",
}

// finish consumes DryRun, rejects any parameter nobody consumed and, for a
// dry run, stops with DryRunOperation: the request was valid.
func (p *params) finish() error {
	dry, err := p.boolean("DryRun")
	if err != nil {
		return err
	}
	var unknown []string
	for k := range p.v {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return &Error{Code: "UnknownParameter", Message: "The parameter " + clip(unknown[0]) + " is not recognized"}
	}
	if dry {
		return dryRun()
	}
	return nil
}

// filterSet is the set of filter names one action accepts, with the aliases
// EC2 documents mapped to their canonical names.
type filterSet struct {
	names map[string]string
	tags  bool // tag:<key>, tag-key and tag-value
}

func newFilterSet(tags bool, canonical []string, aliases map[string]string) filterSet {
	fs := filterSet{names: map[string]string{}, tags: tags}
	for _, n := range canonical {
		fs.names[n] = n
	}
	for alias, n := range aliases {
		fs.names[alias] = n
	}
	return fs
}

func (fs filterSet) canonical(name string) (string, bool) {
	if n, ok := fs.names[name]; ok {
		return n, true
	}
	if fs.tags {
		if name == "tag-key" || name == "tag-value" {
			return name, true
		}
		if key, ok := strings.CutPrefix(name, "tag:"); ok && key != "" {
			return name, true
		}
	}
	return "", false
}

// The filter names below are those the EC2 API reference lists for each
// action (API version 2016-11-15).
var (
	subnetFilters = newFilterSet(true, []string{
		"availability-zone", "availability-zone-id", "available-ip-address-count",
		"cidr-block", "customer-owned-ipv4-pool", "default-for-az", "enable-dns64",
		"enable-lni-at-device-index", "ipv6-cidr-block-association.ipv6-cidr-block",
		"ipv6-cidr-block-association.association-id", "ipv6-cidr-block-association.state",
		"ipv6-native", "map-customer-owned-ip-on-launch", "map-public-ip-on-launch",
		"outpost-arn", "owner-id", "private-dns-name-options-on-launch.hostname-type",
		"private-dns-name-options-on-launch.enable-resource-name-dns-a-record",
		"private-dns-name-options-on-launch.enable-resource-name-dns-aaaa-record",
		"state", "subnet-arn", "subnet-id", "vpc-id",
	}, map[string]string{
		"availabilityZone":   "availability-zone",
		"availabilityZoneId": "availability-zone-id",
		"cidr":               "cidr-block",
		"cidrBlock":          "cidr-block",
		"defaultForAz":       "default-for-az",
	})

	vpcFilters = newFilterSet(true, []string{
		"cidr", "cidr-block-association.cidr-block", "cidr-block-association.association-id",
		"cidr-block-association.state", "dhcp-options-id",
		"ipv6-cidr-block-association.ipv6-cidr-block", "ipv6-cidr-block-association.ipv6-pool",
		"ipv6-cidr-block-association.association-id", "ipv6-cidr-block-association.state",
		"is-default", "owner-id", "state", "vpc-id",
	}, nil)

	zoneFilters = newFilterSet(false, []string{
		"group-long-name", "group-name", "message", "opt-in-status", "parent-zone-id",
		"parent-zone-name", "region-name", "state", "zone-id", "zone-name", "zone-type",
	}, nil)

	eniFilters = newFilterSet(true, []string{
		"association.allocation-id", "association.association-id",
		"addresses.association.owner-id", "addresses.association.public-ip",
		"addresses.primary", "addresses.private-ip-address", "association.ip-owner-id",
		"association.public-ip", "association.public-dns-name", "attachment.attach-time",
		"attachment.attachment-id", "attachment.delete-on-termination",
		"attachment.device-index", "attachment.instance-id", "attachment.instance-owner-id",
		"attachment.status", "availability-zone", "availability-zone-id", "description",
		"group-id", "ipv6-addresses.ipv6-address", "interface-type", "mac-address",
		"network-interface-id", "operator.managed", "operator.principal", "owner-id",
		"private-dns-name", "private-ip-address", "requester-id", "requester-managed",
		"source-dest-check", "status", "subnet-id", "vpc-id",
	}, nil)
)
