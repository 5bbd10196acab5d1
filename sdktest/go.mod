module github.com/dynlimit/dynlimit/sdktest

go 1.26.0

require (
	github.com/dynlimit/dynlimit v0.0.0-00010101000000-000000000000
	github.com/google/go-github/v81 v81.0.0
	github.com/openai/openai-go/v3 v3.105.0
	github.com/slack-go/slack v0.36.0
)

require (
	github.com/cenkalti/backoff/v4 v4.3.0 // indirect
	github.com/coder/websocket v1.8.15 // indirect
	github.com/google/go-querystring v1.1.0 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/tidwall/gjson v1.20.1 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
	github.com/tidwall/sjson v1.2.5 // indirect
)

replace github.com/dynlimit/dynlimit => ..
