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

    /// `trusted_root.json` with these `tlogs` entries only (no Fulcio, CT log or timestamp authority): for key signing.
    package static func trustedRoot(tlogs: [String]) -> String {
        #"{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1", "tlogs": [\#(tlogs.joined(separator: ", "))], "#
            + #""certificateAuthorities": [], "ctlogs": [], "timestampAuthorities": []}"#
    }

    /// A signing config v0.2 naming the simulators (and a timestamp authority), valid since 2020, operator `test`.
    package static func signingConfig(fulcio: String?, rekor: String?, tsa: String?, rekorVersion: Int = 1) -> String {
        signingConfig(
            ca: fulcio.map { [service($0, operator: "test")] } ?? [],
            tlogs: rekor.map { [service($0, operator: "test", version: rekorVersion)] } ?? [],
            tsas: tsa.map { [service($0, operator: "test")] } ?? [])
    }

    /// One service of a signing config: `url` of `owner`, API `version`, valid in `window` (the `validFor` members;
    /// default: since 2020).
    package static func service(
        _ url: String, operator owner: String, version: Int = 1, window: String = #""start": "2020-01-01T00:00:00Z""#
    ) -> String {
        #"{"url": "\#(url)", "majorApiVersion": \#(version), "validFor": {\#(window)}, "operator": "\#(owner)"}"#
    }

    /// A signing config v0.2 of these services (each `service(…)`), with these selectors (`ANY`, `ALL`).
    package static func signingConfig(
        ca: [String], tlogs: [String], tsas: [String], tlogSelector: String = "ANY", tsaSelector: String = "ANY"
    ) -> String {
        func list(_ services: [String]) -> String { "[" + services.joined(separator: ", ") + "]" }
        return #"{"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json", "caUrls": \#(list(ca)), "#
            + #""oidcUrls": [], "rekorTlogUrls": \#(list(tlogs)), "tsaUrls": \#(list(tsas)), "#
            + #""rekorTlogConfig": {"selector": "\#(tlogSelector)"}, "tsaConfig": {"selector": "\#(tsaSelector)"}}"#
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

/// Fulcio, a Rekor log (v1, v2 or none) and an RFC 3161 authority (`openssl ts`, or none) on loopback, with the trust
/// material that names them: what a private Sigstore deployment gives its clients. `stop()` ends them all.
package struct SigstoreStack: Sendable {
    package enum Log: Sendable { case none, v1, v2 }

    package let issuer: TestOIDCIssuer
    package let fulcio: FulcioSimulator
    package let rekor: RekorSimulator?
    package let rekorV2: RekorV2Simulator?
    package let tsa: OpenSSLTimestampAuthority?
    let tsaServer: TestHTTPServer?

    /// The authority's `POST` address.
    package var tsaURL: String? { tsaServer.map { "http://127.0.0.1:\($0.port)/api/v1/timestamp" } }
    package var rekorURL: String? { rekor?.url ?? rekorV2?.url }

    /// `tsaAnswer` may replace the authority's reply (a fault), as `OpenSSLTimestampAuthority.serve` takes it.
    package init(
        directory: TemporaryDirectory, log: Log, logKey: RekorV2Simulator.LogKey = .ed25519,
        timestampAuthority: Bool = true,
        issuer: TestOIDCIssuer = TestOIDCIssuer(url: "https://oidc.example.com/cluster", kind: .kubernetes),
        tsaAnswer: (@Sendable (ServedRequest) -> ServedResponse?)? = nil
    ) async throws {
        self.issuer = issuer
        fulcio = try await FulcioSimulator(issuers: [issuer])
        rekor = log == .v1 ? try await RekorSimulator() : nil
        rekorV2 = log == .v2 ? try await RekorV2Simulator(logKey: logKey) : nil
        if timestampAuthority {
            let tsa = try OpenSSLTimestampAuthority(directory: directory)
            self.tsa = tsa
            tsaServer = try await tsa.serve(answer: tsaAnswer)
        } else {
            tsa = nil
            tsaServer = nil
        }
    }

    package func stop() async {
        await fulcio.stop()
        await rekor?.stop()
        await rekorV2?.stop()
        await tsaServer?.stop()
    }

    /// `trusted_root.json` naming all of them.
    package var trustedRootJSON: String {
        let tlogs = [rekor?.trustedRootLog, rekorV2?.trustedRootLog].compactMap { $0 }
        let authority = tsa.flatMap { tsa in tsaURL.map { (tsa, url: $0) } }
        return SigstoreTrust.trustedRoot(fulcio: fulcio, tlogs: tlogs, timestampAuthority: authority)
    }

    /// A signing config v0.2 choosing them.
    package var signingConfigJSON: String {
        SigstoreTrust.signingConfig(
            fulcio: fulcio.url, rekor: rekorURL, tsa: tsaURL, rekorVersion: rekorV2 == nil ? 1 : 2)
    }

    /// sigstore-python's `--trust-config`: both of the above.
    package var clientTrustConfigJSON: String {
        SigstoreTrust.clientTrustConfig(trustedRoot: trustedRootJSON, signingConfig: signingConfigJSON)
    }

    /// An identity token for the controller's ServiceAccount, from the issuer Fulcio trusts.
    package func token() -> String {
        issuer.token(subject: "system:serviceaccount:tekton-chains:tekton-chains-controller")
    }
}
