// Command credentials shows how a worker gets an API token without putting
// it in its code or its logs: from the OS keychain (macOS Keychain through
// `security`, the Linux Secret Service through `secret-tool`), else from an
// environment variable. The token is never printed: the program only says
// where it came from and how long it is.
//
//	go run ./examples/credentials -service dynlimit -account notion -env NOTION_TOKEN
//
// To store a token first:
//
//	macOS:  security add-generic-password -s dynlimit -a notion -w
//	Linux:  secret-tool store --label='dynlimit notion' service dynlimit account notion
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	service := flag.String("service", "dynlimit", "keychain service name")
	account := flag.String("account", "notion", "keychain account name")
	env := flag.String("env", "NOTION_TOKEN", "environment variable to fall back on")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	tok, from, err := Lookup(ctx, *service, *account, *env)
	cancel()
	if errors.Is(err, ErrNotFound) {
		fmt.Printf("no token: store one in the keychain (service %q, account %q) or set %s\n", *service, *account, *env)
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "credentials:", err)
		os.Exit(1)
	}
	fmt.Printf("token found in the %s (%d characters; never printed)\n", from, len(tok.Reveal()))
}
