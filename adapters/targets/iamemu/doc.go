// Package iamemu is a strict local Huawei Cloud IAM serving the two calls
// of project discovery, for tests and the demo. Clients talk to it through
// the official SDK over HTTP: New builds a Server (an http.Handler, usable
// with httptest), Listen serves it on a loopback port and returns the
// endpoint to give the SDK as IAM endpoint (URL returns it again), Close
// stops it.
//
// # Calls
//
//   - GET /v3/auth/projects (KeystoneListAuthProjects): {"links":{"self"},
//     "projects":[{"domain_id","is_domain":false,"parent_id","name",
//     "description","links":{"self"},"id","enabled"}]} for every project of
//     Options.Projects (default DefaultProjects: ap-southeast-1's project
//     and MOS), in the given order. parent_id is the account id, or for a
//     sub-project "<region>_<name>" the id of the served project named
//     "<region>" when there is one (the API reference's rule).
//   - GET /v3/auth/domains (KeystoneListAuthDomains): {"domains":[{"enabled",
//     "id","name","links":{"self"},"description"}],"links":{"self"}} with
//     the one account (Options.DomainID, DomainName), or an empty list with
//     Options.NoDomains.
//
// Another path or method gets 404 APIGW.0101 from the "gateway", before
// authentication. Every answer carries X-Request-Id and X-IAM-Trace-Id
// (the SDK adds the latter to its domain lookup's errors).
//
// # Authentication
//
// Every call must be signed SDK-HMAC-SHA256 as the SDK signs it, checked
// with emulator.VerifySignature against Options.AccessKey, SecretKey and
// SecurityToken (with a token set, X-Security-Token must be sent, signed
// and equal; without, a request carrying one is refused), X-Sdk-Date
// within 15 minutes of Options.Now. X-Domain-Id, when sent, must be signed
// and be Options.DomainID; GET /v3/auth/projects must send it (IAM is a
// global service, and AK/SK calls to global services carry the account
// id), GET /v3/auth/domains need not (the SDK calls it to find the id).
// A failure answers the gateway's flat body, as the KMS emulator does:
//
//	401 APIGW.0301 "Incorrect IAM authentication information: <reason>"
//
// (the reasons for X-Domain-Id are the emulator's wording). With
// Options.Deny every authenticated call answers IAM's own body
//
//	403 IAM.0002 "You are not authorized to perform the requested action."
//
// # Counters
//
// Calls counts the calls by API (Projects, Domains) and the 401, 403 and
// 404 answers; ResetCalls zeroes them.
package iamemu
