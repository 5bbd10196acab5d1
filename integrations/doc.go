// Package integrations holds ready-made rate-limiting configurations for the
// third-party APIs people integrate with, a JSON override file to retune any
// of them per tenant or environment, and one call that turns a name into a
// paced, retrying HTTP client.
//
// The built-ins ([Builtin], [Get], [Names]) cover Notion, Vanta, Fieldguide,
// Airtable, Zapier, Slack, GitHub, OpenAI, Anthropic, Stripe, HubSpot,
// Shopify, Jira, Twilio and Google APIs. Each [Config] carries the base URL,
// the limiter's policy and its parameters (AIMD by default; "policy":
// "cubic" selects [policy.CUBIC]), the statuses that mean throttling or
// overload, the retry budget, the longest wait before a retry, the in-flight
// cap where the API caps concurrency, how requests split into limiters (per
// Slack method, per Airtable base, per Jira endpoint, per host), and a note
// saying where each number comes from.
//
// The original library's usage is one line:
//
//	client, err := integrations.NewClient("notion")
//	resp, err := client.Request(ctx, "GET", "/v1/databases", httpadapter.Header("Authorization", "Bearer "+token))
//
// and an SDK that takes an *http.Client gets a paced transport:
//
//	rt, err := integrations.NewTransport("github", nil)
//	gh := github.NewClient(&http.Client{Transport: rt})
//
// Override files use the original format, an object of integrations keyed by
// name whose fields are those of [Config] in JSON:
//
//	{"notion": {"rate_limit_per_sec": 2}, "custom_api": {"base_url": "https://api.example.com", "max_rate": 5}}
//
// [LoadOverrides] checks a file strictly and reports every problem in it at
// once, each naming the integration, the field and the value; [Merge] lays
// the overrides over the built-ins: a field that is named replaces the
// built-in's, a field that is not keeps it, and a new name defines a new
// integration that starts from [Default]. [WithOverrides] does the same for
// [NewClient] and [NewTransport].
package integrations
