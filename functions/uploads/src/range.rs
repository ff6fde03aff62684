//! HTTP `Range` requests (RFC 9110 §14): one byte range per request.

/// What a `Range` header asks of an object of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No range, or one we ignore (several ranges, other units, malformed): the whole object.
    Full,
    /// Bytes `first..=last`, both within the object.
    Part { first: u64, last: u64 },
    /// A well-formed range that lies beyond the object: `416`.
    Unsatisfiable,
}

pub fn parse(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (a.trim().is_empty(), number(a), number(b)) {
        // bytes=-N: the last N bytes
        (true, _, Some(n)) => {
            if n == 0 || size == 0 {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Part {
                    first: size - n.min(size),
                    last: size - 1,
                }
            }
        }
        // bytes=A- : from A to the end
        (false, Some(first), None) if b.trim().is_empty() => {
            if first >= size {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Part {
                    first,
                    last: size - 1,
                }
            }
        }
        // bytes=A-B
        (false, Some(first), Some(last)) if first <= last => {
            if first >= size {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Part {
                    first,
                    last: last.min(size - 1),
                }
            }
        }
        _ => RangeRequest::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::RangeRequest::*;
    use super::*;

    #[test]
    fn ranges() {
        let p = |first, last| Part { first, last };
        assert_eq!(parse(None, 100), Full);
        assert_eq!(parse(Some("bytes=0-9"), 100), p(0, 9));
        assert_eq!(parse(Some("bytes=90-200"), 100), p(90, 99));
        assert_eq!(parse(Some("bytes=50-"), 100), p(50, 99));
        assert_eq!(parse(Some("bytes=-10"), 100), p(90, 99));
        assert_eq!(parse(Some("bytes=-1000"), 100), p(0, 99));
        assert_eq!(parse(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(parse(Some("bytes=100-200"), 100), Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-0"), 0), Unsatisfiable);
        // Ignored: several ranges, other units, nonsense.
        assert_eq!(parse(Some("bytes=0-1,5-6"), 100), Full);
        assert_eq!(parse(Some("items=0-1"), 100), Full);
        assert_eq!(parse(Some("bytes=9-2"), 100), Full);
        assert_eq!(parse(Some("bytes=x-2"), 100), Full);
        assert_eq!(parse(Some("bytes=+1-2"), 100), Full);
    }
}
