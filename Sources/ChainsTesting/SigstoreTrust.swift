import Foundation

/// Trust material for the simulated Fulcio and Rekor, in the shapes sigstore clients read.
package enum SigstoreTrust {
    /// `trusted_root.json`: the Fulcio CA chain and CT log, and the Rekor log.
    package static func trustedRoot(
        fulcio: FulcioSimulator, rekor: RekorSimulator?,
        timestampAuthority: (OpenSSLTimestampAuthority, url: String)? = nil
    ) -> String {
        fulcio.trustedRootJSON(
            tlogs: rekor.map { [$0.trustedRootLog] } ?? [],
            timestampAuthorities: timestampAuthority.map { [$0.0.trustedRootEntry(uri: $0.url)] } ?? [])
    }

    /// A signing config v0.2 naming the simulators (and a timestamp authority), valid since 2020, operator `test`.
    package static func signingConfig(fulcio: String?, rekor: String?, tsa: String?, rekorVersion: Int = 1) -> String {
        func service(_ url: String?, version: Int = 1) -> String {
            url.map {
                #"[{"url": "\#($0)", "majorApiVersion": \#(version), "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "test"}]"#
            } ?? "[]"
        }
        return #"{"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json", "caUrls": \#(service(fulcio)), "#
            + #""oidcUrls": [], "rekorTlogUrls": \#(service(rekor, version: rekorVersion)), "tsaUrls": \#(service(tsa)), "#
            + #""rekorTlogConfig": {"selector": "ANY"}, "tsaConfig": {"selector": "ANY"}}"#
    }

    /// sigstore-python's `--trust-config` (a ClientTrustConfig): the trusted root and a signing config naming the
    /// simulators (parsed, not used, for offline verification).
    package static func clientTrustConfig(
        fulcio: FulcioSimulator, rekor: RekorSimulator,
        timestampAuthority: (OpenSSLTimestampAuthority, url: String)? = nil
    ) -> String {
        let start = #"{"start": "2020-01-01T00:00:00Z"}"#
        return #"{"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json", "trustedRoot": "#
            + trustedRoot(fulcio: fulcio, rekor: rekor, timestampAuthority: timestampAuthority)
            + #", "signingConfig": {"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json", "#
            + #""caUrls": [{"url": "\#(fulcio.url)", "majorApiVersion": 1, "validFor": \#(start), "operator": "test"}], "#
            + #""oidcUrls": [], "rekorTlogUrls": [{"url": "\#(rekor.url)", "majorApiVersion": 1, "validFor": \#(start), "operator": "test"}], "#
            + #""tsaUrls": [], "rekorTlogConfig": {"selector": "ANY"}, "tsaConfig": {"selector": "ANY"}}}"#
    }
}
