// Command tagwarden is the terminal face of tagwarden: it runs the same
// policy engine, handler, KMS adapter and event decoders as the serverless
// function, on a laptop.
//
// Commands:
//
//	tagwarden demo                 try everything against an embedded emulator
//	tagwarden plan                 show what the policies would change (never writes)
//	tagwarden apply                apply the changes
//	tagwarden validate [DIR]       load and compile policies; errors as file:line:column
//	tagwarden test [DIR]           run the policy test cases
//	tagwarden emulator             serve the KMS emulator
//	tagwarden invoke EVENT.json    run the handler on a platform event, as the function would
//	tagwarden runs < logs.jsonl    the state of sweep runs (fan-out, links) from the function's logs
//
// Exit codes: 0 compliant (or success), 2 violations found or changes needed
// (plan) or violations remaining (apply), failing test cases (test), 1 an
// error. See docs/cli.md.
package main
