//! Which network addresses outbound webhooks may reach. Blocked: private, loopback, link-local
//! (169.254.169.254, the cloud metadata service, among them), CGNAT, unique-local, multicast,
//! documentation, benchmarking, unspecified and broadcast addresses, and the NAT64 and
//! IPv4-mapped/compatible forms that embed them. An explicit allow-list
//! (`HORIZON_WEBHOOK_ALLOW_CIDRS`, for local development and tests) exempts its networks alone.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = s.trim().split_once('/').unwrap_or((s.trim(), ""));
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if p.is_empty() { max } else { p.parse().ok()? };
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Parses a comma-separated list of CIDRs; `Err` names the bad entry.
pub fn parse_cidrs(list: &str) -> Result<Vec<Cidr>, String> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| Cidr::parse(s).ok_or_else(|| format!("{s:?} is not a CIDR like 127.0.0.1/32")))
        .collect()
}

/// IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible addresses as the IPv4 they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

const BLOCKED_V4: &[(&str, u8)] = &[
    ("0.0.0.0", 8),
    ("10.0.0.0", 8),
    ("100.64.0.0", 10),
    ("127.0.0.0", 8),
    ("169.254.0.0", 16),
    ("172.16.0.0", 12),
    ("192.0.0.0", 24),
    ("192.0.2.0", 24),
    ("192.168.0.0", 16),
    ("198.18.0.0", 15),
    ("198.51.100.0", 24),
    ("203.0.113.0", 24),
    ("224.0.0.0", 4),
    ("240.0.0.0", 4),
];

const BLOCKED_V6: &[(&str, u8)] = &[
    ("::", 128),
    ("::1", 128),
    ("fc00::", 7),
    ("fe80::", 10),
    ("fec0::", 10),      // site-local (deprecated, still routed by some stacks)
    ("64:ff9b:1::", 48), // local-use NAT64 (RFC 8215): any IPv4 inside, at any position
    ("ff00::", 8),
    ("2001:db8::", 32),
];

/// Whether `ip` may be contacted, given the allow-list.
pub fn is_allowed(ip: IpAddr, allow: &[Cidr]) -> bool {
    if allow.iter().any(|c| c.contains(ip)) {
        return true;
    }
    !is_blocked(ip)
}

pub fn is_blocked(ip: IpAddr) -> bool {
    let in_list = |list: &[(&str, u8)], ip: IpAddr| {
        list.iter().any(|(a, p)| {
            a.parse::<IpAddr>()
                .map(|addr| Cidr { addr, prefix: *p }.contains(ip))
                .unwrap_or(true)
        })
    };
    match canonical(ip) {
        IpAddr::V4(v4) => v4 == Ipv4Addr::BROADCAST || in_list(BLOCKED_V4, IpAddr::V4(v4)),
        IpAddr::V6(v6) => {
            // NAT64 (64:ff9b::/96), IPv4-compatible (::/96) and IPv4-translated (::ffff:0:0/96)
            // addresses end in an IPv4 address, 6to4 (2002::/16) carries one after its prefix:
            // judge that address.
            let segs = v6.segments();
            let embedded = Ipv4Addr::from((u128::from(v6) & 0xffff_ffff) as u32);
            if segs[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                || segs[..6] == [0, 0, 0, 0, 0xffff, 0]
                || (segs[..6] == [0; 6] && v6 != Ipv6Addr::LOCALHOST && v6 != Ipv6Addr::UNSPECIFIED)
            {
                return is_blocked(IpAddr::V4(embedded));
            }
            if segs[0] == 0x2002 {
                let six_to_four = Ipv4Addr::from((u32::from(segs[1]) << 16) | u32::from(segs[2]));
                return is_blocked(IpAddr::V4(six_to_four));
            }
            in_list(BLOCKED_V6, IpAddr::V6(v6))
        }
    }
}

/// A URL as logs and delivery logs show it: scheme, host and port only, `/…` for a path or
/// query (where receivers put their tokens).
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(url) => {
            let host = url.host_str().unwrap_or("");
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            let rest = if url.path() != "/" || url.query().is_some() {
                "/…"
            } else {
                "/"
            };
            format!("{}://{host}{port}{rest}", url.scheme())
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// Checks a webhook URL before it is stored: http(s) only, with a host; a host that is an IP
/// literal (or `localhost`) must be allowed. Names are checked again after DNS, at delivery.
pub fn check_webhook_url(raw: &str, allow: &[Cidr]) -> Result<url::Url, String> {
    if raw.len() > 2048 {
        return Err("is longer than 2048 characters".into());
    }
    let url = url::Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("must be http or https, not {}", url.scheme()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    let literal = match url.host() {
        None => return Err("has no host".into()),
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if d == "localhost" || d.ends_with(".localhost") {
                Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
            } else {
                None
            }
        }
    };
    if let Some(ip) = literal {
        if !is_allowed(ip, allow) {
            return Err(format!(
                "points at {ip}, a private, loopback, link-local or otherwise internal address"
            ));
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_blocked_in_every_form() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "2001:db8::1",
            "64:ff9b:1::a9fe:a9fe",
            "64:ff9b:1:a9fe:a9fe::",
            "2002:a9fe:a9fe::1",
            "2002:0a00:0001::1",
            "::ffff:0:7f00:1",
            "::ffff:0:a9fe:a9fe",
            "fec0::1",
        ] {
            assert!(is_blocked(ip(s)), "{s} should be blocked");
        }
        for s in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2002:0808:0808::1",
        ] {
            assert!(!is_blocked(ip(s)), "{s} should be allowed");
        }
    }

    #[test]
    fn urls_are_logged_without_their_path_and_query() {
        assert_eq!(
            redact_url("https://hooks.example.com:8443/t/SECRET?token=x"),
            "https://hooks.example.com:8443/…"
        );
        assert_eq!(
            redact_url("https://hooks.example.com/"),
            "https://hooks.example.com/"
        );
        assert_eq!(redact_url("::"), "(not a URL)");
    }

    #[test]
    fn the_allow_list_exempts_only_its_networks() {
        let allow = parse_cidrs("127.0.0.1/32").unwrap();
        assert!(is_allowed(ip("127.0.0.1"), &allow));
        assert!(!is_allowed(ip("127.0.0.2"), &allow));
        assert!(!is_allowed(ip("10.0.0.1"), &allow));
        assert!(parse_cidrs("10.0.0.0/33").is_err());
        assert!(parse_cidrs("nonsense").is_err());
    }

    #[test]
    fn urls() {
        let none: &[Cidr] = &[];
        assert!(check_webhook_url("https://example.com/hook", none).is_ok());
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost/x",
            "http://user:pw@example.com/",
            "not a url",
            "http://10.0.0.5/",
        ] {
            assert!(check_webhook_url(bad, none).is_err(), "{bad} accepted");
        }
        let allow = parse_cidrs("127.0.0.1/32").unwrap();
        assert!(check_webhook_url("http://127.0.0.1:9999/hook", &allow).is_ok());
    }
}
