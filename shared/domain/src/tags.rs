//! Tags: the client's, and the ones the service files every job under.

/// The one rule for a tag, wherever one is written (a job's tags, a list's filter, a monitored
/// tag): 1 to 64 characters of ASCII letters, digits and `_ - . : / @`. The OpenAPI document's
/// pattern for a tag says the same (`views::Tag`, checked by a test).
pub const TAG_PATTERN: &str = r"^[A-Za-z0-9_.:/@-]{1,64}$";

/// The namespaces of the tags the service gives every job itself (see [`Job::auto_tags`]): a
/// client's tag may not use them, so that another account cannot pose as one of them.
pub const RESERVED_TAG_PREFIXES: [&str; 4] = ["account:", "upload:", "type:", "retry_of:"];

/// Checks a tag against [`TAG_PATTERN`]; the error says what a tag may hold.
pub fn check_tag(tag: &str) -> Result<(), &'static str> {
    let ok = (1..=64).contains(&tag.len())
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:/@".contains(c));
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 64 characters of letters, digits and _ - . : / @")
    }
}

/// Checks a tag a client gives a job: the rule, outside the reserved namespaces.
pub fn check_client_tag(tag: &str) -> Result<(), String> {
    check_tag(tag).map_err(str::to_owned)?;
    match RESERVED_TAG_PREFIXES.iter().find(|p| tag.starts_with(*p)) {
        Some(prefix) => Err(format!(
            "must not start with {prefix:?}: the service gives every job its own tags there"
        )),
        None => Ok(()),
    }
}
