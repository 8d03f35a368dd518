package awsclient

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// hideWriterTo works around a client-side race between smithy-go and
// net/http (aws-sdk-go-v2 issues 1825 and 2737): after writing a request
// body of known length, net/http probes the body once more with
// io.Copy(io.Discard, body), which uses the body's WriteTo. The SDK closes
// the body as soon as the response headers arrive, and smithy-go's closed
// body then answers WriteTo with io.EOF, which io.Copy reports as an error;
// net/http takes it for a failed write and closes the connection while the
// SDK is still reading a response larger than one buffer ("use of closed
// network connection"). Hiding WriteTo makes the probe use Read, whose
// io.EOF is a clean end. Seen within a few calls against a loopback server
// (gluenet sim serve) for responses over about 4 KB.
type hideWriterTo struct{ next aws.HTTPClient }

type readCloserOnly struct{ io.ReadCloser }

// Do implements aws.HTTPClient.
func (c hideWriterTo) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r = r.Clone(r.Context())
		r.Body = readCloserOnly{r.Body}
	}
	return c.next.Do(r)
}
