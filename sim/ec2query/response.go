package ec2query

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"slices"
	"strconv"
)

// response is a marshalable EC2 response document; setMeta fills the parts
// every response shares.
type response interface {
	setMeta(requestID string)
}

// meta is the root element's namespace and the request ID that every EC2
// response carries.
type meta struct {
	Xmlns     string `xml:"xmlns,attr"`
	RequestID string `xml:"requestId"`
}

func (m *meta) setMeta(requestID string) {
	m.Xmlns = xmlns
	m.RequestID = requestID
}

// set is an EC2 list: <fooSet><item>...</item></fooSet>. It is a struct, not
// a `xml:"fooSet>item"` path, so that an empty list is still written as
// <fooSet/>; clients then report an empty list instead of no list at all.
type set[T any] struct {
	Items []T `xml:"item"`
}

type tagXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

// tagSet renders tags sorted by key, for stable output; nil (no tagSet
// element) when there are none, as EC2 does.
func tagSet(tags map[string]string) *set[tagXML] {
	if len(tags) == 0 {
		return nil
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := &set[tagXML]{}
	for _, k := range keys {
		s.Items = append(s.Items, tagXML{Key: k, Value: tags[k]})
	}
	return s
}

type subnetXML struct {
	SubnetID                    string        `xml:"subnetId"`
	SubnetArn                   string        `xml:"subnetArn"`
	State                       string        `xml:"state"`
	OwnerID                     string        `xml:"ownerId"`
	VpcID                       string        `xml:"vpcId"`
	CidrBlock                   string        `xml:"cidrBlock"`
	AvailableIPAddressCount     int           `xml:"availableIpAddressCount"`
	AvailabilityZone            string        `xml:"availabilityZone"`
	AvailabilityZoneID          string        `xml:"availabilityZoneId,omitempty"`
	DefaultForAz                bool          `xml:"defaultForAz"`
	MapPublicIPOnLaunch         bool          `xml:"mapPublicIpOnLaunch"`
	AssignIpv6AddressOnCreation bool          `xml:"assignIpv6AddressOnCreation"`
	Ipv6CidrBlockAssociationSet set[struct{}] `xml:"ipv6CidrBlockAssociationSet"`
	TagSet                      *set[tagXML]  `xml:"tagSet,omitempty"`
	EnableDns64                 bool          `xml:"enableDns64"`
	Ipv6Native                  bool          `xml:"ipv6Native"`
	// What EC2 returns for a subnet created without options: IP-based
	// hostnames, no resource-name DNS records.
	PrivateDNSNameOptionsOnLaunch privateDNSOptionsXML `xml:"privateDnsNameOptionsOnLaunch"`
}

type privateDNSOptionsXML struct {
	HostnameType                    string `xml:"hostnameType"`
	EnableResourceNameDNSARecord    bool   `xml:"enableResourceNameDnsARecord"`
	EnableResourceNameDNSAAAARecord bool   `xml:"enableResourceNameDnsAAAARecord"`
}

func (h *handler) subnetXML(s Subnet) subnetXML {
	return subnetXML{
		SubnetID:                      s.SubnetID,
		SubnetArn:                     "arn:aws:ec2:" + h.region + ":" + h.accountID + ":subnet/" + s.SubnetID,
		State:                         s.State,
		OwnerID:                       h.accountID,
		VpcID:                         s.VpcID,
		CidrBlock:                     s.CidrBlock,
		AvailableIPAddressCount:       s.AvailableIPAddressCount,
		AvailabilityZone:              s.AvailabilityZone,
		AvailabilityZoneID:            s.AvailabilityZoneID,
		TagSet:                        tagSet(s.Tags),
		PrivateDNSNameOptionsOnLaunch: privateDNSOptionsXML{HostnameType: "ip-name"},
	}
}

type vpcXML struct {
	VpcID                   string                  `xml:"vpcId"`
	OwnerID                 string                  `xml:"ownerId"`
	State                   string                  `xml:"state"`
	CidrBlock               string                  `xml:"cidrBlock"`
	CidrBlockAssociationSet set[cidrAssociationXML] `xml:"cidrBlockAssociationSet"`
	DhcpOptionsID           string                  `xml:"dhcpOptionsId,omitempty"`
	InstanceTenancy         string                  `xml:"instanceTenancy"`
	IsDefault               bool                    `xml:"isDefault"`
	TagSet                  *set[tagXML]            `xml:"tagSet,omitempty"`
}

type cidrAssociationXML struct {
	AssociationID  string `xml:"associationId,omitempty"`
	CidrBlock      string `xml:"cidrBlock"`
	CidrBlockState struct {
		State string `xml:"state"`
	} `xml:"cidrBlockState"`
}

func (h *handler) vpcXML(v Vpc) vpcXML {
	x := vpcXML{
		VpcID:           v.VpcID,
		OwnerID:         h.accountID,
		State:           v.State,
		CidrBlock:       v.CidrBlock,
		InstanceTenancy: "default",
		IsDefault:       v.IsDefault,
		TagSet:          tagSet(v.Tags),
		DhcpOptionsID:   v.DhcpOptionsID,
	}
	a := cidrAssociationXML{AssociationID: v.CidrAssociationID, CidrBlock: v.CidrBlock}
	a.CidrBlockState.State = "associated"
	x.CidrBlockAssociationSet.Items = []cidrAssociationXML{a}
	return x
}

type zoneItem struct {
	ZoneName           string        `xml:"zoneName"`
	ZoneState          string        `xml:"zoneState"`
	RegionName         string        `xml:"regionName"`
	ZoneID             string        `xml:"zoneId"`
	MessageSet         set[struct{}] `xml:"messageSet"`
	OptInStatus        string        `xml:"optInStatus"`
	GroupName          string        `xml:"groupName"`
	NetworkBorderGroup string        `xml:"networkBorderGroup"`
	ZoneType           string        `xml:"zoneType"`
}

// zoneXML reports every zone as an ordinary, opted-in Availability Zone of
// its region: the simulated region has no Local or Wavelength Zones.
func zoneXML(z AvailabilityZone) zoneItem {
	return zoneItem{
		ZoneName:           z.ZoneName,
		ZoneState:          z.State,
		RegionName:         z.RegionName,
		ZoneID:             z.ZoneID,
		OptInStatus:        "opt-in-not-required",
		GroupName:          z.RegionName,
		NetworkBorderGroup: z.RegionName,
		ZoneType:           "availability-zone",
	}
}

type privateIPXML struct {
	PrivateIPAddress string `xml:"privateIpAddress"`
	PrivateDNSName   string `xml:"privateDnsName,omitempty"`
	Primary          bool   `xml:"primary"`
}

type eniXML struct {
	NetworkInterfaceID    string            `xml:"networkInterfaceId"`
	SubnetID              string            `xml:"subnetId"`
	VpcID                 string            `xml:"vpcId"`
	AvailabilityZone      string            `xml:"availabilityZone"`
	Description           string            `xml:"description"`
	OwnerID               string            `xml:"ownerId"`
	RequesterManaged      bool              `xml:"requesterManaged"`
	Status                string            `xml:"status"`
	PrivateIPAddress      string            `xml:"privateIpAddress,omitempty"`
	PrivateDNSName        string            `xml:"privateDnsName,omitempty"`
	MacAddress            string            `xml:"macAddress,omitempty"`
	SourceDestCheck       bool              `xml:"sourceDestCheck"`
	GroupSet              set[groupXML]     `xml:"groupSet"`
	PrivateIPAddressesSet set[privateIPXML] `xml:"privateIpAddressesSet"`
	Ipv6AddressesSet      set[struct{}]     `xml:"ipv6AddressesSet"`
	InterfaceType         string            `xml:"interfaceType,omitempty"`
	TagSet                *set[tagXML]      `xml:"tagSet,omitempty"`
}

type groupXML struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName,omitempty"`
}

func (h *handler) eniXML(e NetworkInterface) eniXML {
	x := eniXML{
		NetworkInterfaceID: e.NetworkInterfaceID,
		SubnetID:           e.SubnetID,
		VpcID:              e.VpcID,
		AvailabilityZone:   e.AvailabilityZone,
		Description:        e.Description,
		OwnerID:            h.accountID,
		RequesterManaged:   e.RequesterManaged,
		Status:             e.Status,
		PrivateIPAddress:   e.PrivateIPAddress,
		PrivateDNSName:     h.privateDNSName(e.PrivateIPAddress),
		SourceDestCheck:    true,
		InterfaceType:      e.InterfaceType,
		TagSet:             tagSet(e.Tags),
		MacAddress:         e.MacAddress,
	}
	for _, g := range e.Groups {
		x.GroupSet.Items = append(x.GroupSet.Items, groupXML{GroupID: g.ID, GroupName: g.Name})
	}
	if e.PrivateIPAddress != "" {
		x.PrivateIPAddressesSet.Items = []privateIPXML{{
			PrivateIPAddress: e.PrivateIPAddress,
			PrivateDNSName:   x.PrivateDNSName,
			Primary:          true,
		}}
		for _, ip := range e.SecondaryPrivateIPAddresses {
			x.PrivateIPAddressesSet.Items = append(x.PrivateIPAddressesSet.Items, privateIPXML{
				PrivateIPAddress: ip,
				PrivateDNSName:   h.privateDNSName(ip),
			})
		}
	}
	return x
}

type describeSubnetsResponse struct {
	XMLName xml.Name `xml:"DescribeSubnetsResponse"`
	meta
	Subnets   set[subnetXML] `xml:"subnetSet"`
	NextToken string         `xml:"nextToken,omitempty"`
}

type describeVpcsResponse struct {
	XMLName xml.Name `xml:"DescribeVpcsResponse"`
	meta
	Vpcs      set[vpcXML] `xml:"vpcSet"`
	NextToken string      `xml:"nextToken,omitempty"`
}

type describeAvailabilityZonesResponse struct {
	XMLName xml.Name `xml:"DescribeAvailabilityZonesResponse"`
	meta
	Zones set[zoneItem] `xml:"availabilityZoneInfo"`
}

type createNetworkInterfaceResponse struct {
	XMLName xml.Name `xml:"CreateNetworkInterfaceResponse"`
	meta
	NetworkInterface eniXML `xml:"networkInterface"`
	ClientToken      string `xml:"clientToken,omitempty"`
}

type deleteNetworkInterfaceResponse struct {
	XMLName xml.Name `xml:"DeleteNetworkInterfaceResponse"`
	meta
	Return bool `xml:"return"`
}

type describeNetworkInterfacesResponse struct {
	XMLName xml.Name `xml:"DescribeNetworkInterfacesResponse"`
	meta
	NetworkInterfaces set[eniXML] `xml:"networkInterfaceSet"`
	NextToken         string      `xml:"nextToken,omitempty"`
}

// The header every EC2 response starts with.
const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// contentType is what EC2 sends with every response, errors included.
const contentType = "text/xml;charset=UTF-8"

func (h *handler) writeResponse(w http.ResponseWriter, reqID, action string, body response) {
	body.setMeta(reqID)
	var buf bytes.Buffer
	buf.WriteString(xmlHeader)
	enc := xml.NewEncoder(&buf)
	// EC2 indents its responses; doing the same keeps golden files and
	// debug logs readable, and proves clients skip the whitespace.
	enc.Indent("", "    ")
	if err := enc.Encode(body); err != nil {
		// Only an unmarshalable type gets here, which is a bug in this
		// package, not in the request.
		h.fail(w, reqID, action, err)
		return
	}
	writeXML(w, reqID, http.StatusOK, buf.Bytes())
}

type errorResponse struct {
	XMLName   xml.Name   `xml:"Response"`
	Errors    []errorXML `xml:"Errors>Error"`
	RequestID string     `xml:"RequestID"`
}

type errorXML struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// WriteError writes e in EC2's error shape with e's HTTP status:
//
//	<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>
//
// A nil e is written as InternalError.
func WriteError(w http.ResponseWriter, requestID string, e *Error) {
	if e == nil {
		e = internalError()
	}
	var buf bytes.Buffer
	buf.WriteString(xmlHeader)
	doc := errorResponse{Errors: []errorXML{{Code: e.Code, Message: e.Message}}, RequestID: requestID}
	// Strings and slices of strings always marshal; invalid UTF-8 is
	// replaced, not refused.
	_ = xml.NewEncoder(&buf).Encode(doc)
	writeXML(w, requestID, e.status(), buf.Bytes())
}

func writeXML(w http.ResponseWriter, requestID string, status int, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	// The SDKs read the request ID of a successful call from this header.
	hd.Set("x-amzn-RequestId", requestID)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
