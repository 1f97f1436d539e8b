import Foundation

/// Trust material for the simulated Fulcio and Rekor (v1 or v2), in the shapes sigstore clients read.
package enum SigstoreTrust {
    /// `trusted_root.json`: the Fulcio CA chain and CT log, and the Rekor log.
    package static func trustedRoot(
        fulcio: FulcioSimulator, rekor: RekorSimulator?,
        timestampAuthority: (OpenSSLTimestampAuthority, url: String)? = nil
    ) -> String {
        trustedRoot(
            fulcio: fulcio, tlogs: rekor.map { [$0.trustedRootLog] } ?? [], timestampAuthority: timestampAuthority)
    }

    /// `trusted_root.json` with these `tlogs` entries (`RekorSimulator.trustedRootLog`, `RekorV2Simulator.trustedRootLog`).
    package static func trustedRoot(
        fulcio: FulcioSimulator, tlogs: [String], timestampAuthority: (OpenSSLTimestampAuthority, url: String)? = nil
    ) -> String {
        fulcio.trustedRootJSON(
            tlogs: tlogs,
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
        clientTrustConfig(
            trustedRoot: trustedRoot(fulcio: fulcio, rekor: rekor, timestampAuthority: timestampAuthority),
            signingConfig: signingConfig(fulcio: fulcio.url, rekor: rekor.url, tsa: nil))
    }

    /// A ClientTrustConfig of a trusted root and a signing config (both JSON).
    package static func clientTrustConfig(trustedRoot: String, signingConfig: String) -> String {
        #"{"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json", "trustedRoot": "#
            + trustedRoot + #", "signingConfig": "# + signingConfig + "}"
    }
}
