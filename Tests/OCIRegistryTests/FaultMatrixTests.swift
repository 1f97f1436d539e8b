import ChainsCore
import ChainsTesting
import Foundation
import HTTPTransport
import OCI
import Signing
import Testing

/// The fault suite: keyless signing with Rekor and OCI storage through a fault proxy in front of each peer — the
/// registry, its token server, Fulcio, Rekor — one fault per row. Each row's end state is written down: retried and
/// signed, or a failure naming the peer with the run not marked signed; in every row exactly one .sig and one .att
/// layer per image at most, one Rekor entry per signed payload at most, and no secret in anything printed. A row that
/// does not end signed is retried (the output run, with its attempt records, signed again with the peer healed) and
/// must then end signed with nothing duplicated.
/// docs/reliability.md has the table; a row added there is a row added here.
@Suite("Fault matrix: every peer, every fault", .serialized)
struct FaultMatrixTests {
    enum Peer: String, Sendable { case registry, tokens, fulcio, rekor }
    enum End: Sendable, Equatable {
        /// Signed, stored and logged once (exit 0).
        case signed
        /// Signed and stored; the Rekor entry failed, retryably (the signature is kept, the run is retried).
        case storedLogRetryable
        /// Not signed: a retryable failure naming the peer.
        case failsRetryable
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var peer: Peer
        var fault: FaultProxy.Fault
        var method: String?
        var path: String
        var count: Int = 1
        var end: End
        var testDescription: String { "\(peer.rawValue): \(fault) on \(method ?? "any") \(path) → \(end)" }
    }

    static let rows: [Row] = [
        // The registry.
        Row(peer: .registry, fault: .status(503), method: "PUT", path: "/manifests/", count: 2, end: .signed),
        Row(
            peer: .registry, fault: .status(429, retryAfter: "1"), method: "POST", path: "/blobs/uploads", end: .signed),
        Row(peer: .registry, fault: .reset, method: "PUT", path: "/manifests/", end: .signed),
        Row(peer: .registry, fault: .truncate, method: "GET", path: "/manifests/", end: .signed),
        Row(
            peer: .registry, fault: .slowBody(chunk: 64, pause: .milliseconds(20)), method: "GET", path: "/manifests/",
            count: 2, end: .signed),
        // Read-back finds the lost write: not marked signed; the retry pushes it (one layer, not two).
        Row(peer: .registry, fault: .acceptAndDrop, method: "PUT", path: "/manifests/sha256-", end: .failsRetryable),
        Row(peer: .registry, fault: .contentType("text/html"), method: "GET", path: "/manifests/", end: .signed),
        Row(peer: .registry, fault: .status(500), method: "PUT", path: "/manifests/", count: 100, end: .failsRetryable),
        Row(peer: .registry, fault: .hang, method: "PUT", path: "/manifests/", count: 100, end: .failsRetryable),
        // Followed without credentials (registries send uploads to storage hosts); the other host fails, the PUT
        // is retried at the registry.
        Row(peer: .registry, fault: .redirect(to: "ELSEWHERE"), method: "PUT", path: "/blobs/", end: .signed),
        // The token server (the registry's realm).
        Row(peer: .tokens, fault: .status(503), method: nil, path: "/token", end: .signed),
        Row(peer: .tokens, fault: .reset, method: nil, path: "/token", end: .signed),
        Row(
            peer: .tokens, fault: .replaceBody(Data("<html>".utf8)), method: nil, path: "/token", count: 100,
            end: .failsRetryable),
        Row(peer: .tokens, fault: .hang, method: nil, path: "/token", count: 100, end: .failsRetryable),
        // Fulcio.
        Row(peer: .fulcio, fault: .status(503), method: "POST", path: "/api/v2/signingCert", end: .signed),
        Row(peer: .fulcio, fault: .reset, method: "POST", path: "/api/v2/signingCert", end: .signed),
        Row(
            peer: .fulcio, fault: .truncate, method: "POST", path: "/api/v2/signingCert", count: 100,
            end: .failsRetryable),
        Row(peer: .fulcio, fault: .hang, method: "POST", path: "/api/v2/signingCert", count: 100, end: .failsRetryable),
        // Rekor.
        Row(peer: .rekor, fault: .status(503), method: "POST", path: "/api/v1/log/entries", end: .signed),
        // The entry is made, the answer lost: the retry gets 409 and the existing entry — never a second one.
        Row(peer: .rekor, fault: .truncate, method: "POST", path: "/api/v1/log/entries", end: .signed),
        Row(
            peer: .rekor, fault: .replaceBody(Data("{}".utf8)), method: "POST", path: "/api/v1/log/entries",
            count: 100, end: .storedLogRetryable),
        // A log that never answers holds the run until its time budget is spent: nothing after it is done.
        Row(peer: .rekor, fault: .hang, method: "POST", path: "/api/v1/log/entries", count: 100, end: .failsRetryable),
    ]

    @Test(arguments: rows)
    func row(_ row: Row) async throws {
        let stack = try await FaultStack()
        defer { Task { await stack.stop() } }
        var fault = row.fault
        if case .redirect = fault {
            fault = .redirect(to: "localhost:\(stack.elsewhere.address.split(separator: ":")[1])")
        }
        stack.proxy(row.peer).inject(fault, method: row.method, path: row.path, count: row.count)
        // A peer that never answers holds the run for its whole budget: short there, generous elsewhere (a loaded
        // CI machine runs the suite in parallel).
        let hangs = if case .hang = row.fault { true } else { false }
        let signed = try await stack.sign(runTimeout: hangs ? .seconds(5) : .seconds(60))
        let text = signed.text
        let failures = signed.outcome?.failures ?? []
        let mark = signed.outcome?.annotations.mark ?? [:]
        switch row.end {
        case .signed:
            #expect(signed.exitCode == 0, "\(text)")
            #expect(mark["chains.tekton.dev/signed"] == "true", "\(text)")
            #expect(stack.rekor.entryCount == 2, "one entry for the image, one for the provenance")
        case .storedLogRetryable:
            #expect(signed.exitCode == 1, "\(text)")
            #expect(!failures.isEmpty && failures.allSatisfy { $0.stage == .tlog && $0.isRetryable }, "\(text)")
            #expect(failures.allSatisfy { "\($0)".contains(stack.rekorProxy.address) }, "\(text)")
            #expect(mark["chains.tekton.dev/signed"] == nil)
            #expect(stack.rekor.entryCount <= 2)
        case .failsRetryable:
            #expect(signed.exitCode == 1, "\(text)")
            #expect(!failures.isEmpty && failures.allSatisfy(\.isRetryable), "\(text)")
            let named = stack.names(row.peer)
            #expect(failures.contains { f in named.contains { "\(f)".contains($0) } }, "\(named): \(text)")
            #expect(mark["chains.tekton.dev/signed"] == nil, "\(text)")
            #expect(mark["chains.tekton.dev/retries"] == "0", "\(text)")
        }
        // Never duplicated: at most one layer in the .sig and in the .att, at most two log entries.
        let layers = try await stack.layers()
        #expect(layers.sig <= 1 && layers.att <= 1, "\(layers)")
        if row.end == .signed { #expect(layers.sig == 1 && layers.att == 1, "\(layers)") }
        #expect(stack.rekor.entryCount <= 2)
        // Nothing secret printed; the push password went to the registry's realm only, never to a redirect target.
        // The token's signature part too: a log line could carry a token without its claims.
        let tokenSignature = String(stack.identityToken.split(separator: ".").last ?? "")
        for secret in [TokenRegistry.pushUser.1, stack.identityToken, tokenSignature] {
            #expect(!text.contains(secret) && !(signed.document ?? "").contains(secret))
            #expect(!stack.log.all.contains { $0.contains(secret) }, "a secret in the log")
        }
        #expect(!stack.log.all.isEmpty, "nothing was logged: the scan would prove nothing")
        let basic =
            "Basic " + Data("\(TokenRegistry.pushUser.0):\(TokenRegistry.pushUser.1)".utf8).base64EncodedString()
        for proxy in [stack.registryProxy, stack.fulcioProxy, stack.rekorProxy] {
            #expect(!proxy.seen.contains { $0.authorization == basic }, "the push password went to \(proxy.address)")
        }
        if case .redirect = row.fault { #expect(!stack.elsewhere.seen.isEmpty, "the redirect was not followed") }
        #expect(
            !stack.elsewhere.seen.contains { $0.authorization != nil },
            "credentials followed a redirect to another host: \(stack.elsewhere.seen)")
        guard row.end != .signed else { return }
        // The retry, as the controller makes it: the run as the attempt left it, the peer answering again.
        stack.proxy(row.peer).clear()
        let retried = try await stack.sign(document: signed.document, runTimeout: .seconds(60))
        #expect(retried.exitCode == 0, "retry: \(retried.text)")
        #expect(retried.outcome?.annotations.mark["chains.tekton.dev/signed"] == "true", "retry: \(retried.text)")
        let after = try await stack.layers()
        #expect(after.sig == 1 && after.att == 1, "after the retry: \(after)")
        #expect(stack.rekor.entryCount == 2, "after the retry: \(stack.rekor.entryCount) log entries")
    }

    /// The mutation probe's read-back: a registry that keeps the old `.sig` when acknowledging the new one (an update
    /// lost, not a first write) is caught by reading back, not marked signed.
    @Test("a lost update of an existing .sig is found by read-back: not marked signed, retryable")
    func lostUpdate() async throws {
        let stack = try await FaultStack()
        defer { Task { await stack.stop() } }
        let first = try await stack.sign()
        #expect(first.exitCode == 0, "\(first.text)")
        // Signed again (--force): a new certificate, so a new layer; its manifest update is acknowledged and lost.
        stack.registryProxy.inject(.acceptAndDrop, method: "PUT", path: "/manifests/sha256-", count: 100)
        let again = try await stack.sign(force: true)
        #expect(again.exitCode == 1, "\(again.text)")
        #expect(again.outcome?.annotations.mark["chains.tekton.dev/signed"] == nil, "\(again.text)")
        let failures = again.outcome?.failures ?? []
        #expect(!failures.isEmpty && failures.allSatisfy(\.isRetryable), "\(again.text)")
        #expect(failures.contains { "\($0)".contains("read back") }, "\(again.text)")
        let layers = try await stack.layers()
        #expect(layers.sig == 1 && layers.att == 1, "\(layers)")
    }

    /// The mutation probe's attempt-cert-lifetime: a retry reuses what an earlier attempt signed only while its
    /// certificate has more than a minute left; a certificate about to expire means signing again.
    @Test("a retry does not reuse a signature whose certificate is about to expire: a new certificate is made")
    func noReuseNearExpiry() async throws {
        let stack = try await FaultStack()
        defer { Task { await stack.stop() } }
        stack.fulcio.setLifetime(45)
        // Rekor answers garbage to both entries: signatures made and stored, the attempt retryable, records kept.
        stack.rekorProxy.inject(.replaceBody(Data("{}".utf8)), method: "POST", path: "/api/v1/log/entries", count: 2)
        let first = try await stack.sign()
        #expect(first.exitCode == 1, "\(first.text)")
        let certificates = stack.fulcio.stats.v2
        #expect(first.document?.contains("chains-in-swift.dev/attempt-") == true, "\(first.text)")
        let retried = try await stack.sign(document: first.document)
        #expect(retried.exitCode == 0, "\(retried.text)")
        #expect(stack.fulcio.stats.v2 > certificates, "the retry must ask Fulcio for a new certificate")
        // Asking Fulcio is not enough (a retry asks for the identity it signs as anyway): nothing was reused, and
        // each record was refused for its certificate's expiry.
        #expect(retried.outcome?.artifacts.isEmpty == false)
        #expect(retried.outcome?.artifacts.allSatisfy { !$0.reused } == true, "\(retried.text)")
        let refusals = (retried.outcome?.diagnostics ?? []).filter { $0.message.contains("too soon to log it") }
        #expect(refusals.count == retried.outcome?.artifacts.count, "\(retried.text)")
    }
}
