package sqs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// shortPoll makes a ReceiveMessage call send WaitTimeSeconds 0. The SDK
// leaves a zero WaitTimeSeconds out of the request
// (aws/aws-sdk-go-v2#1704), and SQS then applies the queue's
// ReceiveMessageWaitTimeSeconds, which Terraform and CreateQueues set to
// 20s: a receive meant not to wait would long-poll.
func shortPoll(o *sqs.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Build.Add(middleware.BuildMiddlewareFunc("FlaskShortPoll", setZeroWait), middleware.Before)
	})
}

// setZeroWait writes "WaitTimeSeconds":0 into the JSON body of the request,
// before its length is computed and it is signed.
func setZeroWait(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok || req.GetStream() == nil {
		return next.HandleBuild(ctx, in)
	}
	raw, err := io.ReadAll(req.GetStream())
	if err != nil {
		return middleware.BuildOutput{}, middleware.Metadata{}, fmt.Errorf("short poll: read request body: %w", err)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil {
		return middleware.BuildOutput{}, middleware.Metadata{}, fmt.Errorf("short poll: request body is not a JSON object: %w", err)
	}
	body["WaitTimeSeconds"] = json.RawMessage("0")
	if raw, err = json.Marshal(body); err != nil {
		return middleware.BuildOutput{}, middleware.Metadata{}, err
	}
	if req, err = req.SetStream(bytes.NewReader(raw)); err != nil {
		return middleware.BuildOutput{}, middleware.Metadata{}, fmt.Errorf("short poll: %w", err)
	}
	req.ContentLength = int64(len(raw))
	in.Request = req
	return next.HandleBuild(ctx, in)
}
