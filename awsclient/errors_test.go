package awsclient

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
)

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	api := func(code string) error {
		return fmt.Errorf("get job %q: %w", "j", &smithy.OperationError{
			ServiceID: "Glue", OperationName: "GetJob",
			Err: &smithy.GenericAPIError{Code: code, Message: "m"},
		})
	}
	tests := []struct {
		err          error
		code         string
		notFound     bool
		accessDenied bool
		problem      string
	}{
		{err: api("EntityNotFoundException"), code: "EntityNotFoundException", notFound: true, problem: "EntityNotFoundException: m"},
		{err: api("ResourceNotFoundException"), code: "ResourceNotFoundException", notFound: true, problem: "ResourceNotFoundException: m"},
		{err: api("InvalidSubnetID.NotFound"), code: "InvalidSubnetID.NotFound", notFound: true, problem: "InvalidSubnetID.NotFound: m"},
		{err: api("AccessDeniedException"), code: "AccessDeniedException", accessDenied: true, problem: "AccessDeniedException: m"},
		{err: api("UnauthorizedOperation"), code: "UnauthorizedOperation", accessDenied: true, problem: "UnauthorizedOperation: m"},
		{err: api("ThrottlingException"), code: "ThrottlingException", problem: "ThrottlingException: m"},
		{err: errors.New("dial tcp: connection refused"), problem: "dial tcp: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.problem, func(t *testing.T) {
			t.Parallel()
			if got := ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := IsNotFound(tt.err); got != tt.notFound {
				t.Errorf("IsNotFound = %v, want %v", got, tt.notFound)
			}
			if got := IsAccessDenied(tt.err); got != tt.accessDenied {
				t.Errorf("IsAccessDenied = %v, want %v", got, tt.accessDenied)
			}
			if got := problemText(tt.err); got != tt.problem {
				t.Errorf("problemText = %q, want %q", got, tt.problem)
			}
		})
	}
}
