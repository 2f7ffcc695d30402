//! The client's IP: the socket peer, or the right-most untrusted hop behind trusted proxies.

use std::net::IpAddr;

use crate::request::AuthRequest;

/// The client's IP as seen through `trusted` proxies: the right-most untrusted hop.
pub(crate) fn resolve(trusted: &[ipnet::IpNet], req: &AuthRequest) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&req.peer) {
        return req.peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    if req.header_value("forwarded").is_some() {
        for value in req.header_values("forwarded") {
            hops.extend(
                value
                    .split([',', ';'])
                    .filter_map(|pair| pair.trim().split_once('='))
                    .filter(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .filter_map(|(_, v)| parse_forwarded_ip(v)),
            );
        }
    } else {
        for value in req.header_values("x-forwarded-for") {
            hops.extend(value.split(',').filter_map(parse_forwarded_ip));
        }
    }
    let mut client = req.peer;
    for hop in hops.into_iter().rev() {
        client = hop;
        if !is_trusted(&hop) {
            break;
        }
    }
    client
}

/// The client as a rate limit sees it: an IPv4 address alone, an IPv6 address by its /64
/// (the prefix a single host or customer is given: all of it is one client).
pub(crate) fn rate_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or_else(
            || ipnet::Ipv6Net::new_assert(v6, 64).trunc().to_string(),
            |v4| v4.to_string(),
        ),
    }
}

fn parse_forwarded_ip(raw: &str) -> Option<IpAddr> {
    let v = raw.trim().trim_matches('"');
    if let Ok(ip) = v.parse() {
        return Some(ip);
    }
    // `[v6]:port`, `[v6]` or `v4:port`.
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    v.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(peer: [u8; 4], headers: &[(&str, &str)]) -> AuthRequest {
        headers
            .iter()
            .fold(AuthRequest::new(peer.into()), |r, (n, v)| {
                r.header(n, v.as_bytes())
            })
    }

    #[test]
    fn rate_keys_group_ipv6_by_64() {
        let key = |ip: &str| rate_key(ip.parse().unwrap());
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        // One host's addresses in one /64 are one client; the next /64 is another.
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:3::1"), "2001:db8:1:3::/64");
        assert_eq!(key("::1"), "::/64");
        // A dual-stack socket reports IPv4 clients as mapped addresses: each is its own.
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_ne!(key("::ffff:203.0.113.7"), key("::ffff:203.0.113.8"));
    }

    #[test]
    fn forwarding_headers_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let xff = [("x-forwarded-for", "1.2.3.4, 10.0.0.7")];
        // An untrusted peer's header is ignored.
        assert_eq!(
            resolve(&trusted, &req([8, 8, 8, 8], &xff)),
            IpAddr::from([8, 8, 8, 8])
        );
        assert_eq!(
            resolve(&[], &req([10, 0, 0, 1], &xff)),
            IpAddr::from([10, 0, 0, 1])
        );
        // Through trusted proxies: the right-most untrusted hop, not the spoofable left-most.
        let spoofed = [("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.7")];
        assert_eq!(
            resolve(&trusted, &req([10, 0, 0, 1], &spoofed)),
            IpAddr::from([1, 2, 3, 4])
        );
        // RFC 7239 Forwarded, with ports and IPv6.
        let fwd = [(
            "forwarded",
            "for=\"[2001:db8::1]:4711\";proto=https, for=10.1.1.1",
        )];
        assert_eq!(
            resolve(&trusted, &req([10, 0, 0, 1], &fwd)),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        // Only trusted hops: the left-most.
        let all = [("x-forwarded-for", "10.9.9.9, 10.0.0.7")];
        assert_eq!(
            resolve(&trusted, &req([10, 0, 0, 1], &all)),
            IpAddr::from([10, 9, 9, 9])
        );
        // Garbage is skipped.
        let junk = [("x-forwarded-for", "junk, 1.2.3.4:80")];
        assert_eq!(
            resolve(&trusted, &req([10, 0, 0, 1], &junk)),
            IpAddr::from([1, 2, 3, 4])
        );
    }
}
