// Command tagwarden is the terminal face of tagwarden: it runs the same
// policy engine, handler, KMS adapter and event decoders as the serverless
// function, on a laptop.
//
// Commands:
//
//	tagwarden demo                 try everything against an embedded emulator
//	tagwarden plan                 show what the policies would change (never writes);
//	                               --out FILE saves the plan, --compare OLD_DIR previews a policy change
//	tagwarden apply [PLAN_FILE]    show the plan, ask, apply exactly it; or apply a saved plan
//	tagwarden show PLAN_FILE       print a saved plan
//	tagwarden validate [DIR]       load and compile policies; errors as file:line:column
//	tagwarden test [DIR]           run the policy test cases
//	tagwarden emulator             serve the KMS emulator
//	tagwarden invoke EVENT.json    run the handler on a platform event, as the function would
//	tagwarden runs < logs.jsonl    the state of sweep runs (fan-out, links) from the function's logs
//
// Exit codes: 0 compliant (or success), 2 violations found or changes needed
// (plan, show), violations remaining or keys changed since the plan (apply),
// a policy change that changes something (plan --compare), failing test
// cases (test), 1 an error (a refused plan file, an unconfirmed apply). See
// docs/cli.md.
package main
