package integrations

import (
	"encoding/json"
	"io"
	"net/http"
)

// Defaults of [LLMTokenCost].
const (
	// DefaultOutputTokens is the output a request is priced at when its
	// body names no limit (an embeddings call, a chat call without
	// max_tokens): the upstream counts what is generated, which is not
	// known before the answer.
	DefaultOutputTokens = 1024
	// BytesPerToken is the bytes of request body priced as one input
	// token: about 4 characters a token for English text, as the LLM
	// providers' own rules of thumb say. JSON syntax makes it an
	// overestimate, the safe side.
	BytesPerToken = 4
	// maxCostBody bounds the body LLMTokenCost reads: beyond it, the
	// length alone prices the input.
	maxCostBody = 4 << 20
)

// LLMTokenCost prices a request to an LLM API (OpenAI, Anthropic) in tokens
// before it is sent, as those APIs count them against a tokens-per-minute
// limit: the output limit the JSON body names (max_tokens,
// max_completion_tokens or max_output_tokens; the largest if several, or
// [DefaultOutputTokens] if none) plus the input, estimated at one token per
// [BytesPerToken] bytes of body. A request without a body costs nothing.
//
// The body is read through req.GetBody, never req.Body, so the request is
// sent unchanged; a body without GetBody, or one that is not JSON, is priced
// by its length and the default output. The estimate is what a request is
// allowed to spend up front; the x-ratelimit-*-tokens headers of the answer
// tell the limiter what the upstream really counted.
//
// It is the default of Config.Cost; set another func there to price
// requests otherwise.
func LLMTokenCost(req *http.Request) float64 {
	if req.Body == nil || req.Body == http.NoBody {
		return 0
	}
	size := float64(max(req.ContentLength, 0))
	output := -1.0
	if req.GetBody != nil {
		if body, err := req.GetBody(); err == nil {
			n, out := scanLLMBody(io.LimitReader(body, maxCostBody))
			_ = body.Close()
			size = max(size, float64(n))
			output = out
		}
	}
	if output < 0 {
		output = DefaultOutputTokens
	}
	return output + size/BytesPerToken
}

// scanLLMBody reads an LLM request's JSON body and returns its size and the
// largest output limit it names, or -1 when it names none or is not JSON.
func scanLLMBody(r io.Reader) (size int64, output float64) {
	cr := &countingReader{r: r}
	var body struct {
		MaxTokens           *float64 `json:"max_tokens"`
		MaxCompletionTokens *float64 `json:"max_completion_tokens"`
		MaxOutputTokens     *float64 `json:"max_output_tokens"`
	}
	output = -1
	if err := json.NewDecoder(cr).Decode(&body); err == nil {
		for _, p := range []*float64{body.MaxTokens, body.MaxCompletionTokens, body.MaxOutputTokens} {
			if p != nil && *p >= 0 && *p <= maxTokenBound {
				output = max(output, *p)
			}
		}
	}
	_, _ = io.Copy(io.Discard, cr) // the rest counts as input too
	return cr.n, output
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
