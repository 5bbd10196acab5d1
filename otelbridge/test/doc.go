// Package test holds the tests of package otelbridge that need the
// OpenTelemetry SDK: its manual metric reader and its span recorder. They
// are a module of their own, as otelhttp's are, so that otelbridge's
// go.mod requires the OpenTelemetry API only and a user who imports it
// gets nothing in their module graph that OpenTelemetry does not bring.
package test
