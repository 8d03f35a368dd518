// Package conformance checks the simulated region (package sim) against AWS
// clients that no one here wrote: boto3 and the AWS CLI, versions 1 and 2.
// Our own SDK-based tests share their authors' reading of the wire formats
// with the simulator; botocore (behind boto3 and CLI v1) and the CLI v2's
// own copy of it read the service models independently, so a mistake in
// the simulator's JSON 1.1, EC2 query or error shapes shows up here.
//
// The package holds only tests. Each test starts a region on a loopback
// socket with a manual clock, drives every operation the region serves
// through an external client, parses what the client printed and compares
// it with the region's own State. When python3 with boto3, or a CLI, is not
// installed the tests skip, saying what to install; with CI=true they fail
// instead, so that a CI machine cannot silently stop checking.
package conformance
