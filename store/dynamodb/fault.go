package dynamodb

import (
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/gluenet/gluenet/store"
)

// Classify says what a failed operation's error means, for store.Guard:
//   - FaultRetry: DynamoDB throttled the request (on-demand tables throttle
//     a sudden burst beyond twice their previous peak) or failed inside
//     (InternalServerError, ServiceUnavailable), the SDK's own retries ran
//     out on such errors, the connection was refused or reset, or a
//     compare-and-swap kept losing to other writers;
//   - FaultNone: anything else (access denied, a missing table, a
//     validation error, the caller's context, a call past its deadline).
//
// DynamoDB has no disk to fill: nothing is FaultFull. A connection reset
// after a write was sent leaves it unknown whether it took effect; retrying
// is safe for every operation but BeginRun's created flag and PutRunState's
// revision check, which the executor reads back (docs/state.md), and an
// UpdateHealth whose first try did land (the SDK's own retries run the same
// risk).
func Classify(err error) store.Fault {
	if err == nil {
		return store.FaultNone
	}
	var (
		pte *types.ProvisionedThroughputExceededException
		rle *types.RequestLimitExceeded
		ise *types.InternalServerError
		mae *retry.MaxAttemptsError
		ae  smithy.APIError
		ne  net.Error
	)
	switch {
	case errors.Is(err, errContended), errors.As(err, &pte), errors.As(err, &rle), errors.As(err, &ise), errors.As(err, &mae):
		return store.FaultRetry
	case errors.As(err, &ae):
		switch ae.ErrorCode() {
		case "ThrottlingException", "ServiceUnavailable", "InternalFailure", "TransactionInProgressException":
			return store.FaultRetry
		}
		return store.FaultNone
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &ne) && !ne.Timeout():
		return store.FaultRetry
	}
	return store.FaultNone
}

// Describe names the store for messages: "dynamodb TABLE".
func Describe(table string) string { return "dynamodb " + table }
