package sdktest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/integrations"
)

const openAICompletion = `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`

// openAIUpstream answers chat completions as OpenAI does: a 429
// rate_limit_exceeded with retry-after-ms, or insufficient_quota, for the
// attempts answer says, else a completion.
func openAIUpstream(answer func(n int) string) *upstream {
	return &upstream{h: func(w http.ResponseWriter, _ *http.Request, n int) {
		w.Header().Set("Content-Type", "application/json")
		switch answer(n) {
		case "rate_limit_exceeded":
			w.Header().Set("Retry-After-Ms", "2000")
			w.Header().Set("X-Should-Retry", "true")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"message":"Rate limit reached for requests","type":"requests","code":"rate_limit_exceeded"}}`)
		case "insufficient_quota":
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}`)
		default:
			fmt.Fprint(w, openAICompletion)
		}
	}}
}

// openAIClient wires openai-go as docs/integrations.md says: the library's
// transport under the SDK's HTTP client, and the SDK's own retries off
// (option.WithMaxRetries(0)), since the library retries throttles itself.
func openAIClient(t *testing.T, up *upstream, sdkRetries int, opts ...httpadapter.Option) openai.Client {
	t.Helper()
	rt, err := integrations.NewTransport("openai", up, integrations.WithTransportOptions(opts...))
	if err != nil {
		t.Fatal(err)
	}
	sdk := []option.RequestOption{option.WithAPIKey("sk-test"), option.WithBaseURL("https://api.openai.com/v1/"),
		option.WithHTTPClient(&http.Client{Transport: rt})}
	if sdkRetries >= 0 {
		sdk = append(sdk, option.WithMaxRetries(sdkRetries))
	}
	return openai.NewClient(sdk...)
}

func complete(c openai.Client) error {
	_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-test", // the upstream here answers any model
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	return err
}

func TestOpenAIChatCompletion(t *testing.T) {
	for _, tc := range []struct {
		name       string
		answer     func(n int) string
		sdkRetries int // -1: the SDK's default (2)
		returnLast bool
		attempts   int
		wantErr    func(error) bool
	}{
		{"one 429, SDK retries off", func(n int) string { return map[bool]string{true: "rate_limit_exceeded"}[n == 1] }, 0, false, 2, nil},
		{"always 429, SDK retries off", func(int) string { return "rate_limit_exceeded" }, 0, false, 1 + httpadapter.DefaultMaxRetries,
			func(err error) bool { var he *httpadapter.Error; return errors.As(err, &he) }},
		{"always 429, SDK retries off, last response", func(int) string { return "rate_limit_exceeded" }, 0, true, 1 + httpadapter.DefaultMaxRetries,
			func(err error) bool {
				var oe *openai.Error
				return errors.As(err, &oe) && oe.StatusCode == http.StatusTooManyRequests
			}},
		{"always 429, SDK's default retries: they compound", func(int) string { return "rate_limit_exceeded" }, -1, false, 3 * (1 + httpadapter.DefaultMaxRetries),
			func(err error) bool { return err != nil }},
		{"insufficient_quota, SDK retries off: final at once", func(int) string { return "insufficient_quota" }, 0, false, 1,
			func(err error) bool {
				var oe *openai.Error
				return errors.As(err, &oe) && oe.Code == "insufficient_quota"
			}},
		{"insufficient_quota, SDK's default retries", func(int) string { return "insufficient_quota" }, -1, false, 3,
			func(err error) bool { var oe *openai.Error; return errors.As(err, &oe) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := openAIUpstream(tc.answer)
				var opts []httpadapter.Option
				if tc.returnLast {
					opts = append(opts, httpadapter.WithReturnLastResponse(true))
				}
				err := complete(openAIClient(t, up, tc.sdkRetries, opts...))
				attempts, throttled := up.counts()
				t.Logf("openai-go, %s: 1 call, %d attempts, %d throttled, err %v", tc.name, attempts, throttled, err)
				if attempts != tc.attempts {
					t.Errorf("%d attempts, want %d", attempts, tc.attempts)
				}
				if tc.wantErr == nil && err != nil || tc.wantErr != nil && !tc.wantErr(err) {
					t.Errorf("err = %v (%T)", err, err)
				}
			})
		})
	}
}
