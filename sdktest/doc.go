// Package sdktest drives the official Go SDKs of GitHub (go-github), OpenAI
// (openai-go) and Slack (slack-go) through dynlimit, as docs/integrations.md
// says to wire them, against httptest upstreams that answer with each
// vendor's headers and error bodies. Its tests pin what a user of each SDK
// gets: how many upstream attempts a call makes, which side retries, and
// which error the SDK returns when the library gives up.
//
// It is a module of its own so that the SDKs stay out of every other
// module's requirements.
package sdktest
