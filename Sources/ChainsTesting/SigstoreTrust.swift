import Foundation

/// Trust material for the simulated Fulcio and Rekor, in the shapes sigstore clients read.
package enum SigstoreTrust {
    /// `trusted_root.json`: the Fulcio CA chain and CT log, and the Rekor log.
    package static func trustedRoot(fulcio: FulcioSimulator, rekor: RekorSimulator?) -> String {
        fulcio.trustedRootJSON(tlogs: rekor.map { [$0.trustedRootLog] } ?? [])
    }

    /// sigstore-python's `--trust-config` (a ClientTrustConfig): the trusted root and a signing config naming the
    /// simulators (parsed, not used, for offline verification).
    package static func clientTrustConfig(fulcio: FulcioSimulator, rekor: RekorSimulator) -> String {
        let start = #"{"start": "2020-01-01T00:00:00Z"}"#
        return #"{"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json", "trustedRoot": "#
            + trustedRoot(fulcio: fulcio, rekor: rekor)
            + #", "signingConfig": {"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json", "#
            + #""caUrls": [{"url": "\#(fulcio.url)", "majorApiVersion": 1, "validFor": \#(start), "operator": "test"}], "#
            + #""oidcUrls": [], "rekorTlogUrls": [{"url": "\#(rekor.url)", "majorApiVersion": 1, "validFor": \#(start), "operator": "test"}], "#
            + #""tsaUrls": [], "rekorTlogConfig": {"selector": "ANY"}, "tsaConfig": {"selector": "ANY"}}}"#
    }
}
