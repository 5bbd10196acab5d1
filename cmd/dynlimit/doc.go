// Command dynlimit plays the dynlimit simulator from the command line: how
// a rate-limiting strategy fares against a model of an upstream API, and
// which AIMD parameters fare best. It also lists the built-in API
// configurations and checks override files.
//
// Usage:
//
//	dynlimit sim [flags] [scenario | pattern*]
//	dynlimit tune [flags] [scenario...]
//	dynlimit scenarios [flags] [scenario...]
//	dynlimit integrations [--json] [--overrides file] [name...]
//	dynlimit validate file
//
// Sim plays one scenario (default S1), or every one a pattern such as S8*
// names, against strategies (by default the
// library's defaults next to four baselines: a fixed rate at each client's
// share of the upstream's true limit, a fixed rate 30 % above it, no pacing
// with naive retries, and the AWS SDK for Go v2's adaptive retry mode) and
// prints a summary row per strategy, under a line that says what each
// baseline is, or the results as JSON with --json.
// --plot draws each run's rate, the hidden limit and the throttles over time
// to an SVG, PNG or HTML file. --policy-file plays AIMD parameters from a
// JSON file, or CUBIC's when it says "policy": "cubic".
//
//	dynlimit sim
//	dynlimit sim S2 --policy default,naive --plot s2.html
//	dynlimit sim 'S8*' --policy default,aws
//	dynlimit sim --scenario-file mine.json --policy-file tuned.json --json
//
// Tune sweeps a grid of AIMD parameters (increase and decrease factors by
// default) over scenarios (default S1, S2 and S3), prints the configurations
// on the Pareto front of mean goodput against mean throttled share, picks the
// one with the highest goodput within a throttled budget, and can write it as
// a policy file that sim and policy.ParseAIMD read back.
//
//	dynlimit tune --decrease 0.5,0.7,0.9 --max-throttled 0.02 --out tuned.json
//
// Scenarios lists the built-in scenarios, S1 to S8, S8 standing for the
// twelve of its family (S8* lists them); with --json it prints their
// definitions, a starting point for --scenario-file.
//
// Integrations lists the built-in API configurations of package
// integrations (name, base URL, rate, burst, key, in-flight cap, throttle
// statuses), with an override file laid over them by --overrides; --json
// prints them in full as an override file. Validate checks an override file
// and prints every problem in it, one per line, naming the integration, the
// field and the value; it exits with 1 when there is any. Sim plays a
// built-in API's configuration with --integration NAME [--overrides file].
//
//	dynlimit integrations
//	dynlimit validate overrides.json
//	dynlimit sim S2 --integration github --overrides overrides.json
//
// Every command takes -h. Exit status: 0 on success, 2 when the command line
// is wrong (an unknown command, flag, scenario, policy or integration, a bad
// value), 1 when something else fails (a file that cannot be read or does not
// parse, an override file with problems, a simulation error). The same
// command line prints the same bytes every time: the simulator is
// deterministic, and runs done in parallel are reported in a
// fixed order.
package main
