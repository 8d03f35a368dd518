package ec2query

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"Action=DescribeSubnets&Version=2016-11-15",
	"Action=DescribeSubnets&Version=2016-11-15&SubnetId.1=subnet-00000000000000001&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-0a1b2c3d4e5f60718&MaxResults=5",
	"Action=DescribeSubnets&Version=2016-11-15&MaxResults=5&NextToken=eyJ2IjoxfQ",
	"Action=DescribeVpcs&Version=2016-11-15&VpcId.1=vpc-0a1b2c3d4e5f60718&DryRun=true",
	"Action=DescribeAvailabilityZones&Version=2016-11-15&ZoneName.1=us-east-1a&ZoneId.1=use1-az2&AllAvailabilityZones=true",
	"Action=CreateNetworkInterface&Version=2016-11-15&SubnetId=subnet-00000000000000001&Description=d&SecondaryPrivateIpAddressCount=2&TagSpecification.1.ResourceType=network-interface&TagSpecification.1.Tag.1.Key=k&TagSpecification.1.Tag.1.Value=v",
	"Action=DeleteNetworkInterface&Version=2016-11-15&NetworkInterfaceId=eni-00000001",
	"Action=DescribeNetworkInterfaces&Version=2016-11-15&NetworkInterfaceId.1=eni-00000001&MaxResults=5",
	"Action=DescribeNetworkInterfaces&Version=2016-11-15&Filter.1.Name=tag:Name&Filter.1.Value.1=%00%ff",
	"Action=Nope&Version=2016-11-15",
	"Version=2016-11-15",
	"Action=DescribeSubnets&Version=2016-11-15&Filter.99999999999999999999.Name=x",
	"%zz",
}

// FuzzParseRequest checks that ParseRequest never panics and that its
// answer is always usable: either a complete request or an *Error the
// handler can write.
func FuzzParseRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add("POST", "application/x-www-form-urlencoded", "", s)
		f.Add("GET", "", s, "")
	}
	f.Add("POST", "text/plain; charset=\x00", "Action=DescribeVpcs", "Version=2016-11-15")
	f.Fuzz(func(t *testing.T, method, contentType, query, body string) {
		r := &http.Request{
			Method: method,
			URL:    &url.URL{Path: "/", RawQuery: query},
			Header: http.Header{},
			Body:   io.NopCloser(strings.NewReader(body)),
		}
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		req, err := ParseRequest(r)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if e.Code == "" || e.status() < 400 || e.status() > 599 {
				t.Fatalf("error %+v has no code or a non-error status", e)
			}
			return
		}
		if req.Action == "" || req.Version != APIVersion || req.Params == nil {
			t.Fatalf("incomplete request %+v", req)
		}
		for k := range req.Params {
			if k == "Action" || k == "Version" || isAuthParam(k) {
				t.Fatalf("parameter %q leaked into Params", k)
			}
		}
	})
}

// FuzzHandler checks the whole handler: it never panics, and every answer
// is a well-formed XML document with the right root for its status.
func FuzzHandler(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add("", s)
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, query, body string) {
		h := NewHandler(newFake(6), WithLogger(quietLog), WithRequestID(func() string { return "rid" }))
		r := &http.Request{
			Method: "POST",
			URL:    &url.URL{Path: "/", RawQuery: query},
			Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			Body:   io.NopCloser(strings.NewReader(body)),
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		if ct := w.Header().Get("Content-Type"); ct != contentType {
			t.Fatalf("Content-Type = %q", ct)
		}
		if w.Header().Get("x-amzn-RequestId") != "rid" {
			t.Fatalf("no request id header")
		}
		out := w.Body.Bytes()
		if !bytes.HasPrefix(out, []byte(xmlHeader)) {
			t.Fatalf("response lacks the XML declaration: %q", out)
		}
		root := ""
		dec := xml.NewDecoder(bytes.NewReader(out))
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("response is not well-formed XML: %v\n%s", err, out)
			}
			if se, ok := tok.(xml.StartElement); ok && root == "" {
				root = se.Name.Local
			}
		}
		if w.Code == http.StatusOK {
			if !strings.HasSuffix(root, "Response") || root == "Response" {
				t.Fatalf("200 with root %q", root)
			}
			return
		}
		if root != "Response" || w.Code < 400 {
			t.Fatalf("status %d with root %q", w.Code, root)
		}
		var doc errorResponse
		if err := xml.Unmarshal(out, &doc); err != nil || len(doc.Errors) != 1 || doc.Errors[0].Code == "" || doc.RequestID != "rid" {
			t.Fatalf("bad error document (%v): %s", err, out)
		}
	})
}
