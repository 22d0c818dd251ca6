//! What an operator should do about a failure: the console shows each error with the step
//! that fixes it, from what the message says (credentials, rate limits, egress policy,
//! timeouts, connector faults, Glean, held deletions).

/// The step to take for a failure described by `message`.
pub fn for_error(message: &str) -> &'static str {
    let m = message.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
    if has(&[
        "401",
        "unauthorized",
        "forbidden",
        "403",
        "credential",
        "api key",
        "password",
    ]) {
        "Check the tenant's credentials (the environment variables or files its file names), then trigger a crawl."
    } else if has(&["budget"]) {
        "The request budget is spent: crawls resume when its period turns (00:00 GMT, or Sunday 00:00 GMT for a weekly one), or raise `[crawl] request_budget` if the source granted more."
    } else if has(&["429", "rate limit", "rate-limit", "too many requests"]) {
        "The source is rate-limiting: lower `rate_per_second` for this upstream; the crawl retries after the source's Retry-After."
    } else if has(&["denied", "not allowed", "not granted", "egress", "policy"]) {
        "The connector reached for an address outside its grants: check `[upstreams]` base URLs and the component's declared upstreams."
    } else if has(&[
        "timed out",
        "timeout",
        "did not answer",
        "connection refused",
        "transport",
    ]) {
        "The source did not answer: check that it is up and reachable from this host; the tenant retries with growing backoff."
    } else if has(&[
        "deadline",
        "trap",
        "fuel",
        "memory",
        "instance",
        "wasm",
        "unreachable",
    ]) {
        "The connector itself failed or exceeded a sandbox limit: check its version (a replaced component is checked before use) and raise `[connector.limits]` only if the data needs it."
    } else if has(&["secret"]) {
        "The connector echoed a credential, so the item was withheld: report it to the connector's author."
    } else if has(&["deletion", "brake"]) {
        "Deletions are held by the brake: if the source really lost these calls, approve them."
    } else if has(&["glean", "index", "upload"]) {
        "Glean refused or failed an upload: check the Glean token and datasource; the crawl resumes at its last checkpoint."
    } else if has(&["processing", "not ready", "in progress"]) {
        "The call has not finished processing at the source; it is indexed when it has."
    } else if has(&["private", "permission", "visibility"]) {
        "The call's permissions could not be settled, so it fails closed (nobody sees it) until the next crawl settles them."
    } else {
        "See the service log for this tenant; the next crawl retries."
    }
}

#[cfg(test)]
mod tests {
    use super::for_error;

    #[test]
    fn each_kind_of_failure_has_its_step() {
        assert!(for_error("upstream answered 401 Unauthorized").contains("credentials"));
        assert!(for_error("weekly request budget exhausted").contains("period turns"));
        assert!(for_error("429 Too Many Requests").contains("rate_per_second"));
        assert!(for_error("request denied by egress policy").contains("grants"));
        assert!(for_error("timeout: global").contains("did not answer"));
        assert!(for_error("guest call exceeded its deadline").contains("sandbox limit"));
        assert!(for_error("deletions held by the brake").contains("approve"));
        assert!(for_error("something else").contains("log"));
    }
}
