package ec2query

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

func TestDbgPlain(t *testing.T) {
	srv := httptest.NewServer(NewHandler(newFake(12), WithLogger(quietLog)))
	defer srv.Close()
	cl := srv.Client()
	for i := 0; i < 500; i++ {
		resp, err := cl.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader("Action=DescribeSubnets&Version=2016-11-15&MaxResults=5"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("iter %d: %v", i, err)
		}
	}
}

func TestDbgStatic(t *testing.T) {
	fake := newFake(12)
	h := NewHandler(fake, WithLogger(quietLog), WithRequestID(func() string { return "x" }))
	r := httptest.NewRequest("POST", "/", strings.NewReader("Action=DescribeSubnets&Version=2016-11-15&MaxResults=5"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body := w.Body.Bytes()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	defer srv.Close()
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:  &http.Client{},
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}
	c := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	for i := 0; i < 500; i++ {
		_, err := c.DescribeSubnets(context.Background(), &ec2.DescribeSubnetsInput{MaxResults: aws.Int32(5)})
		if err != nil {
			t.Fatalf("iter %d: %v", i, err)
		}
	}
}
