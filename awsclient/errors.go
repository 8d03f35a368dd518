package awsclient

import (
	"errors"

	"github.com/aws/smithy-go"
)

// ErrorCode returns the AWS error code carried by err, such as
// "EntityNotFoundException", or "" when err is not an AWS API error.
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// IsNotFound reports whether err says that the named Glue entity, log group
// or subnet does not exist.
func IsNotFound(err error) bool {
	switch ErrorCode(err) {
	case "EntityNotFoundException", // Glue: job, connection, run
		"ResourceNotFoundException", // CloudWatch Logs: log group
		"InvalidSubnetID.NotFound":  // EC2: subnet asked for by ID
		return true
	}
	return false
}

// IsAccessDenied reports whether err is an authorization failure: the
// caller's IAM policy lacks the action or the resource.
func IsAccessDenied(err error) bool {
	switch ErrorCode(err) {
	case "AccessDeniedException", // Glue, CloudWatch Logs
		"AccessDenied",          // some query-protocol services
		"UnauthorizedOperation": // EC2
		return true
	}
	return false
}

// problemText is err shortened for Candidate.Problem: the AWS code and
// message without the SDK's operation and request-id preamble, which the
// warning log keeps.
func problemText(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if msg := apiErr.ErrorMessage(); msg != "" {
			return apiErr.ErrorCode() + ": " + msg
		}
		return apiErr.ErrorCode()
	}
	return err.Error()
}
