// Package targets says which regions and projects ("targets") one
// deployment enforces: it parses the configured list, discovers the
// projects the function's identity can reach through IAM, narrows them
// with filters, and refuses a payload that names a target outside that
// set. It imports no SDK: package huaweiiam beside it discovers through
// IAM, and package iamemu is a strict local IAM for the tests.
//
// # Target strings
//
// A target is a region, a project id and, optionally, a KMS endpoint. Its
// name, in payloads, reports and logs, is "region/project_id", e.g.
// "ap-southeast-1/0b1f2e3d4c5b6a79887766554433221a": a region id of the
// form ^[a-z]{2,3}-[a-z]+-[0-9]+$ and a project id of 1 to 64 letters,
// digits and "-" (ParseName). A name never includes the endpoint: a payload
// names a target, and the endpoint the credentials go to always comes from
// the configuration.
//
// TAGWARDEN_TARGETS (Parse) is a comma-separated list of
// "region/project_id" or "region/project_id=endpoint" entries, spaces
// around entries ignored:
//
//	ap-southeast-1/0b1f2e3d4c5b6a79887766554433221a, cn-north-4/5c6d7e8f=https://kms.vpc.example:8443
//
// An endpoint is a scheme, a host and a path prefix (endpoint.Check;
// no user, query or fragment; https:// when no scheme is given). Parse
// returns the entries that parse and an error naming each one that does
// not (position from 1 and text, an endpoint's user, password and query
// masked): an empty entry, a bad region, project id or endpoint, a target
// listed twice. The caller can sweep the first and report the second.
// TAGWARDEN_TARGETS=auto is not a list: the caller checks for it and sets
// Config.Auto.
//
// TAGWARDEN_KMS_ENDPOINTS (ParseEndpoints) is "region=endpoint,...": the
// KMS endpoint of every target of that region without one of its own. It
// is all or nothing: one bad entry refuses the whole list, so that keys
// meant for a private endpoint never go to the public one by a typo.
//
// # Which targets
//
// Config.Resolve returns the set, sorted by region then project id:
//
//   - a static list (Config.Static): those targets;
//   - auto (Config.Auto): the projects IAM lists for the identity, kept
//     when enabled, not "MOS", named after a region, with a well-formed
//     id, and matched by the filters;
//   - neither: the function's own region and project (Config.Own), as
//     before targets existed.
//
// Auto and a static list together are refused. Each target without an
// endpoint takes Config.Endpoints[region] ("" means the region's public
// KMS endpoint).
//
// Auto rules. IAM project names are a region id ("cn-north-4": the
// region's default project) or a sub-project "<region id>_<name>"
// ("cn-north-4_mysub"); the region is the name up to the first "_"
// (RegionOf). A project whose name does not start with a region id is
// left out, and so are disabled projects and MOS. Two optional filters
// narrow the rest, each a regular expression (RE2 syntax) that must match
// the WHOLE string, as if written ^(?:expr)$ (CompileFilter; Resolve
// anchors whatever it is given): TAGWARDEN_TARGET_REGIONS on the region
// ("cn-.*|ap-southeast-1"), TAGWARDEN_TARGET_PROJECTS on the project name
// ("cn-north-4" keeps the region's default project only, ".*_prod" the
// sub-projects named prod). When nothing is left, Resolve fails with an
// error wrapping ErrNoTargets that counts what each rule and filter took
// away. A discovery failure is an error naming IAM.
//
// Config.Lookup returns the configured target of a payload's name, with
// the configuration's endpoint. A name that does not parse wraps
// ErrInvalid; a name outside the set wraps ErrNotConfigured: a static
// list's stranger, another project than the function's own, and, with
// auto, a project of the identity that the filters leave out. A manual
// invocation never reaches another project. With auto, Lookup discovers
// on every call: the caller caches.
//
// Targets that parse but fail when swept (a region the KMS SDK does not
// know, a project the identity cannot see, an endpoint that does not
// answer) are not this package's to refuse: the sweep of that target
// fails with an error naming it, and the others go on.
//
// # Discovery through IAM
//
// Package huaweiiam beside this one is the Discoverer over IAM, through
// the official SDK. It lives apart so that this package needs neither the
// SDK nor the KMS adapter: the invocation pipeline and the platform
// adapters use targets, and the architecture test forbids them both.
// (For the same reason the endpoint rule both use lives in
// adapters/endpoint, which needs only the standard library.)
//
// huaweiiam calls services/iam/v3 KeystoneListAuthProjects
// (GET /v3/auth/projects) with the SDK's global credentials
// (core/auth/global). They sign SDK-HMAC-SHA256 like every SDK call, with
// X-Security-Token for temporary credentials and the account id in
// X-Domain-Id (signed). When no domain id is configured, the SDK finds it
// while building the client (core/auth/global_credentials.go,
// ProcessAuthParams, which runs when the client is given a region):
// KeystoneListAuthDomains (GET /v3/auth/domains, sent without
// X-Domain-Id) on the credentials' IAM endpoint, taking the first account
// listed, and keeps it in a process-wide cache keyed by access key (so
// temporary credentials that change per invocation cost one lookup each,
// and one cache entry each). When that list is empty the SDK fails with a
// message asking for "iam:users:getUser", after trying STS
// GetCallerIdentity in the client's region when that region has STS.
// Configuring the domain id skips the lookup.
//
// # Sources, and what they leave open
//
// Marked [?]: what public sources leave open.
//
//   - KeystoneListAuthProjects needs no permission: "You do not need to
//     obtain permissions to call this API" (IAM API reference, "Listing
//     Projects Accessible to an IAM User - KeystoneListAuthProjects",
//     https://support.huaweicloud.com/intl/en-us/api-iam/iam_06_0003.html,
//     updated 2025-12-27; the Chinese page says 当前API调用无需策略权限).
//     KeystoneListAuthDomains, the same (iam_07_0001.html). So there is no
//     IAM action to grant; a 403 means an explicit deny (an identity or
//     agency policy, an organization's service control policy) [?: no
//     public source shows one].
//   - Temporary (agency) credentials: both pages speak of "an IAM user
//     token" and say nothing of agencies [?]. By Keystone's semantics
//     /v3/auth/projects lists the projects the identity holds a role in,
//     so an agency would see the projects its permissions are granted in
//     (all of them when granted on "all resources") [?: not confirmed by a
//     public source]. Grant the function's agency its KMS permissions in
//     every project it must sweep; a project it cannot see is not
//     discovered. The SDK's own message, when /v3/auth/domains lists no
//     account, names "iam:users:getUser" (core/auth/global_credentials.go)
//     although the API reference asks for no permission [?]: set the domain
//     id to avoid depending on it.
//   - X-Domain-Id: "Call APIs of global services (such as IAM, OBS, and
//     CDN) through AK/SK authentication" needs the account id in
//     X-Domain-Id (API signing guide, "AK/SK Signing and Authentication
//     Process",
//     https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-provide-start.html).
//   - Response fields (projects: id, name, domain_id, enabled, is_domain
//     (always false), parent_id (the account id for a region's project,
//     the region project's id for a sub-project), description, links.self;
//     top-level links.self; domains: id, name, enabled, description,
//     links): the API reference pages above and the SDK models
//     services/iam/v3/model (AuthProjectResult, Domains).
//   - Sub-project names "<region>_<name>": a project name "must start with
//     an existing region" followed by "_", e.g. cn-north-1_project1
//     (terraform-provider-huaweicloud, docs/resources/identity_project.md).
//   - MOS: "The project for OBS Billing", listed among an account's
//     projects (terraform-provider-huaweicloud,
//     docs/data-sources/identity_projects.md).
//   - Endpoints: the SDK (core/request, fillPath) replaces an endpoint's
//     path with the API's, so a path prefix in a KMS endpoint, which
//     huaweikms.CheckEndpoint accepts, is dropped without a word
//     (observed with the KMS emulator); huaweiiam refuses a path.
//   - Error bodies: the API gateway answers a bad signature 401
//     {"error_msg":"Incorrect IAM authentication information: ...",
//     "error_code":"APIGW.0301","request_id":...} (as recorded from the
//     live KMS in huaweicloud/cloud-custodian's test data, see the KMS
//     emulator; IAM's own gateway is assumed to answer alike [?]); IAM's
//     own 403 is
//     {"error_msg":"You are not authorized to perform the requested
//     action.","error_code":"IAM.0002"} (or IAM.0003 "Policy doesn't allow
//     %(actions)s to be performed."), its 401 IAM.0001 (IAM API reference
//     examples) [?: which of these a denied KeystoneListAuthProjects
//     answers].
package targets
